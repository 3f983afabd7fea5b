// End to end against a real CA: Pebble and pebble-challtestsrv (Debian package `pebble`) on
// free loopback ports (tests/pebble.cjs), the engine's JS build driven by acme-driver.cjs with Node's fetch,
// HTTP-01 served by http.createServer, the certificate checked with crypto.X509Certificate
// against Pebble's intermediate and root, then revoked. Every process started here is
// killed in after().
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { Processes, startPebble, runClientScript } = require('../pebble.cjs');

const NAME = 'node-e2e.example.test';
let processes; // every process started here (Pebble's and the clients), killed by PID in after()
let dir;
let ca; // {directory, management, httpPort, tlsRoot}

before(async () => {
  const started = Date.now();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certsmith-node-e2e-'));
  processes = new Processes(dir);
  ca = await startPebble(processes, dir);
  console.log(`Pebble up on ${ca.directory} in ${Date.now() - started} ms`);
});

after(async () => {
  const started = Date.now();
  const count = processes ? processes.children.length : 0;
  if (processes) await processes.stopAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  console.log(`stopped all ${count} processes still running in ${Date.now() - started} ms`);
});

/** Runs the client half (e2e-order-client.cjs) for `scenario` with the `build` package,
 * trusting Pebble's TLS root; at most `ms`. Resolves with its JSON report. */
function runClient(scenario, build = 'nodejs', ms = 90_000) {
  const env = { E2E: JSON.stringify({ ...ca, name: NAME, scenario, build }) };
  return runClientScript(processes, dir, ca, path.join(__dirname, 'e2e-order-client.cjs'), env, ms);
}

/** The PEM blocks of a bundle. */
const pemBlocks = (pem) => pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || [];

/** The certificate of an 'issue' report: checked against Pebble's intermediate and root. */
function checkIssued(report, build, started) {

  assert.ok(report.account && report.account.outcome, `account failed: ${JSON.stringify(report.account)}`);
  const account = report.account.outcome;
  assert.strictEqual(account.kind, 'account');
  assert.strictEqual(account.status, 'valid');
  assert.strictEqual(account.created, true);
  assert.deepStrictEqual(account.contact, ['mailto:node-e2e@example.test']);
  assert.strictEqual(report.accountUrl, account.url);

  assert.ok(report.order && report.order.outcome, `order failed: ${JSON.stringify(report.order)}`);
  const issued = report.order.outcome;
  assert.strictEqual(issued.kind, 'certificate');

  // One http-01 challenge, deployed, fetched by Pebble's VA from our server, cleaned up.
  assert.strictEqual(report.deployed.length, 1);
  const [challenge] = report.deployed;
  assert.strictEqual(challenge.type, 'http-01');
  assert.deepStrictEqual(challenge.identifier, { type: 'dns', value: NAME });
  assert.strictEqual(challenge.path, `/.well-known/acme-challenge/${challenge.token}`);
  assert.ok(challenge.keyAuthorization.startsWith(`${challenge.token}.`));
  assert.ok(report.hits.includes(challenge.path), `Pebble fetched ${JSON.stringify(report.hits)}`);
  assert.deepStrictEqual(report.cleaned, [challenge.token]);
  // The order was checkpointed, and the snapshot names it.
  assert.ok(report.saved.length >= 1);
  assert.strictEqual(report.saved[0].snapshot.orderUrl, issued.orderUrl);

  // The chain: the leaf names NAME, is certified by Pebble's intermediate, which its root
  // certifies; the leaf's key is the one the engine handed over.
  const blocks = pemBlocks(issued.chainPem);
  assert.ok(blocks.length >= 2, 'leaf and intermediate');
  const leaf = new crypto.X509Certificate(blocks[0]);
  const intermediate = new crypto.X509Certificate(report.intermediates);
  const root = new crypto.X509Certificate(report.roots);
  assert.ok(leaf.subjectAltName.split(', ').includes(`DNS:${NAME}`), leaf.subjectAltName);
  assert.ok(leaf.checkIssued(intermediate), 'leaf issued by the intermediate');
  assert.ok(leaf.verify(intermediate.publicKey), 'leaf signature verifies with the intermediate key');
  assert.ok(intermediate.checkIssued(root), 'intermediate issued by the root');
  assert.ok(intermediate.verify(root.publicKey), 'intermediate signature verifies with the root key');
  assert.strictEqual(new crypto.X509Certificate(blocks[1]).fingerprint256, intermediate.fingerprint256);
  assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(issued.privateKeyPem)), 'key matches');
  assert.ok(new Date(leaf.validTo) > new Date(), 'not expired');
  assert.ok(issued.certificateUrl.startsWith(ca.directory.replace('/dir', '')));
  // Revoked by the account afterwards, and Pebble agrees.
  assert.deepStrictEqual(report.revoke, { outcome: { kind: 'revoked' } });
  assert.match(report.statusAfterRevoke, /Revoked/i);
  console.log(`${build} build: issued ${NAME} in ${Date.now() - started} ms with ${report.requestsSent} requests`);
}

test('the JS build gets a real certificate from Pebble over HTTP-01', { timeout: 120_000 }, async () => {
  const started = Date.now();
  checkIssued(await runClient('issue'), 'nodejs', started);
});

test('the web build (ES module, initSync) gets one too', { timeout: 120_000 }, async () => {
  const web = path.resolve(__dirname, '..', '..', 'target/wasm/web/certsmith_core.js');
  assert.ok(fs.existsSync(web), `no web build at ${web}: cargo run -p wasm-build -- js --web`);
  const started = Date.now();
  checkIssued(await runClient('issue', 'web'), 'web', started);
});

test('a challenge the host cannot deploy fails the order with a typed error', { timeout: 120_000 }, async () => {
  const report = await runClient('deploy-fails');
  assert.ok(report.account.outcome, 'the account is still created');
  const { error } = report.order;
  assert.ok(error, `order should fail: ${JSON.stringify(report.order)}`);
  assert.strictEqual(error.kind, 'challenge-deploy-failed');
  assert.deepStrictEqual(error.identifier, { type: 'dns', value: NAME });
  assert.match(error.message, /port 80 is not ours/);
  assert.strictEqual(report.deployed.length, 1);
});
