// The engine component (target/wasm/certsmith_engine.wasm) made JS by jco, for the Node tests
// that drive it (component.jco.e2e.test.cjs, component.transcripts.test.cjs): jco's
// `transpile` (@bytecodealliance/jco, pinned in tests/package.json) writes its output into a
// directory, and tests/node_modules is linked beside it so that the output's import of
// `@bytecodealliance/preview2-shim/random` resolves.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const ROOT = path.resolve(__dirname, '..', '..');
const COMPONENT = path.join(ROOT, 'target/wasm/certsmith_engine.wasm');

/**
 * Transpiles the component into `dir` (created if missing; `engine.js` and its core modules)
 * and returns {dir, files: how many jco wrote, ms: how long it took}. Throws, saying what to
 * do, if the component is not built or jco is not installed.
 */
async function transpileComponent(dir) {
  if (!fs.existsSync(COMPONENT)) {
    throw new Error(`no component at ${COMPONENT}: build it with `
      + '`cargo run -p wasm-build -- component --wasm-opt tools/binaryen/node_modules/binaryen/bin/wasm-opt` '
      + '(./test.sh does before the Node tests)');
  }
  let jco;
  try {
    jco = await import('@bytecodealliance/jco');
  } catch (e) {
    throw new Error(`no @bytecodealliance/jco in tests/node_modules: run (cd tests && npm ci), as .ci/run does (${e.message})`);
  }
  const started = Date.now();
  const { files } = await jco.transpile(fs.readFileSync(COMPONENT), { name: 'engine', quiet: true });
  for (const [name, bytes] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), bytes);
  }
  // jco's engine.js imports '@bytecodealliance/preview2-shim/random': resolve it from tests/.
  fs.symlinkSync(path.resolve(__dirname, '..', 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  return { dir, files: Object.keys(files).length, ms: Date.now() - started };
}

/** The transpiled component's exports (`acme`, `helpers`, `types`) from jco's output in `dir`. */
const loadEngine = (dir) => import(pathToFileURL(path.join(dir, 'engine.js')).href);

module.exports = { COMPONENT, transpileComponent, loadEngine };
