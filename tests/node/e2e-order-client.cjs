// The client half of order.e2e.test.cjs, in its own process so that Node's global fetch
// trusts Pebble's TLS root (NODE_EXTRA_CA_CERTS is read only when a process starts).
// Serves HTTP-01 (tests/pebble.cjs serveHttp01), drives the engine's JS build with acme-driver.cjs,
// and prints what happened as one JSON object on stdout.
//
// Input (env E2E): {directory, management, httpPort, name, scenario, build}; scenario 'issue'
// orders and downloads a certificate then revokes it, 'deploy-fails' has the solver refuse the challenge;
// build 'nodejs' (default) requires target/wasm/js, 'web' imports the ES module in
// target/wasm/web and instantiates it with initSync, as a Worker does.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { pathToFileURL } = require('node:url');

const { drive } = require('./acme-driver.cjs');
const { serveHttp01 } = require('../pebble.cjs');

const wasmDir = path.resolve(__dirname, '..', '..', 'target/wasm');

/** The engine's JS exports from the `build` package. */
async function loadEngine(build) {
  if (build === 'web') {
    const engine = await import(pathToFileURL(path.join(wasmDir, 'web/certsmith_core.js')));
    engine.initSync({ module: fs.readFileSync(path.join(wasmDir, 'web/certsmith_core_bg.wasm')) });
    return engine;
  }
  return require(path.join(wasmDir, 'js/certsmith_core.js'));
}

async function main() {
  const config = JSON.parse(process.env.E2E);
  const engine = await loadEngine(config.build);
  const responder = await serveHttp01(config.httpPort);
  const { served, hits } = responder;

  const report = { deployed: [], cleaned: [], saved: [], hits };
  try {
    const client = new engine.Client(config.directory, engine.generateKey('p256'));
    const account = client.start({
      kind: 'new-account',
      contact: ['mailto:node-e2e@example.test'],
      termsOfServiceAgreed: true,
    });
    const order = client.start({
      kind: 'order',
      identifiers: [config.name],
      challengeTypes: ['http-01'],
      keyType: 'p256',
    });
    const results = await drive(client, [account, order], {
      deploy: async (challenge) => {
        report.deployed.push(challenge);
        if (config.scenario === 'deploy-fails') throw new Error('port 80 is not ours');
        served.set(challenge.path, challenge.keyAuthorization);
      },
      cleanup: async (challenge) => {
        report.cleaned.push(challenge.token);
        served.delete(challenge.path);
      },
      save: async (op, snapshot) => report.saved.push({ op, snapshot: JSON.parse(snapshot) }),
      signal: AbortSignal.timeout(60_000),
    });
    report.account = results.get(account);
    report.order = results.get(order);
    if (config.scenario === 'issue' && report.order.outcome) {
      // Revoke it (by the account, reason superseded) and ask Pebble what it thinks.
      const { chainPem } = report.order.outcome;
      const revoke = client.start({ kind: 'revoke', certificatePem: chainPem, reason: 4 });
      report.revoke = (await drive(client, [revoke], { signal: AbortSignal.timeout(30_000) })).get(revoke);
      const serial = new crypto.X509Certificate(chainPem).serialNumber;
      const res = await fetch(`${config.management}/cert-status-by-serial/${serial}`,
        { signal: AbortSignal.timeout(10_000) });
      report.statusAfterRevoke = await res.text();
    }
    report.accountUrl = client.accountUrl;
    report.requestsSent = client.requestsSent;
    for (const what of ['intermediates', 'roots']) {
      const res = await fetch(`${config.management}/${what}/0`, { signal: AbortSignal.timeout(10_000) });
      report[what] = await res.text();
    }
  } finally {
    responder.close();
  }
  process.stdout.write(JSON.stringify(report));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  if (e && e.kind) console.error(JSON.stringify(e));
  process.exit(1);
});
