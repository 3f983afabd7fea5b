// README's Deno and Workers code is the code the tests run: each part of tests/deno/acme.ts,
// tests/workerd/worker.js and tests/workerd/config.capnp between `README begin` and `README
// end` comment lines must appear in README.md verbatim, as a fenced block of its language.
import assert from 'node:assert/strict';

/** The files README quotes, with the language of their fenced blocks. */
const QUOTED: [string, string][] = [
  ['tests/deno/acme.ts', 'ts'],
  ['tests/workerd/worker.js', 'js'],
  ['tests/workerd/config.capnp', 'capnp'],
];

/** The repository root. */
const ROOT = new URL('../../', import.meta.url);

/** The parts of `text` between a `README begin` and a `README end` comment line. */
function regions(text: string): string[] {
  const found = [...text.matchAll(/^(?:\/\/|#) README begin\n([\s\S]*?)^(?:\/\/|#) README end$/gm)];
  return found.map((m) => m[1]);
}

Deno.test('README quotes the Deno and Workers code the tests run, verbatim', async () => {
  const readme = await Deno.readTextFile(new URL('README.md', ROOT));
  for (const [file, lang] of QUOTED) {
    const parts = regions(await Deno.readTextFile(new URL(file, ROOT)));
    assert.ok(parts.length >= 1, `${file} has no README begin/end markers`);
    for (const part of parts) {
      assert.ok(readme.includes(`\`\`\`${lang}\n${part}\`\`\`\n`),
        `README.md does not quote ${file} as it is now (a \`\`\`${lang} block starting with `
          + `${JSON.stringify(part.split('\n')[0])}): copy the part between its README markers`);
    }
  }
});
