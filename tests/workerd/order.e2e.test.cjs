// End to end inside workerd (Cloudflare's open-source Workers runtime, npm `workerd`, pinned
// in tests/package.json): the ACME Worker (worker.js, config.capnp) gets real certificates
// from a local Pebble. The Worker's fetch() trusts only Pebble's TLS root and reaches only
// 127.0.0.1; Pebble validates HTTP-01 against the Worker's own `Http01` entrypoint; the account
// and the tokens live in a Durable Object stored on local disk, and the account outlives a
// restart of workerd. Every process started here is killed by its PID in after().
//
//   (cd tests && npm ci) && node --test tests/workerd/
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { Processes, freePort, waitForPort, startPebble, httpsText } = require('../pebble.cjs');

const NAMES = ['workerd-e2e.example.test', 'workerd-restart.example.test'];
const CONTACT = ['mailto:workerd-e2e@example.test'];
const CONFIG = path.join(__dirname, 'config.capnp');
const WEB_BUILD = path.resolve(__dirname, '..', '..', 'target/wasm/web/certsmith_core_bg.wasm');
let dir;
let processes;
let ca; // {directory, management, httpPort, tlsRoot}
let worker; // {child, control}: the running workerd and its control URL
let firstAccountUrl;

/** The workerd binary from tests/node_modules (npm `workerd`); throws how to install it. */
function workerdBinary() {
  let binary;
  try {
    binary = require(path.join(__dirname, '..', 'node_modules', 'workerd')).default;
  } catch (e) {
    throw new Error(`workerd is not installed (run \`npm ci\` in tests/; .ci/run does): ${e.message}`);
  }
  if (!fs.existsSync(binary)) throw new Error(`the workerd package names ${binary}, which does not exist`);
  return binary;
}

/** Starts `workerd serve` on a free control port and `http01Port` (default Pebble's HTTP-01
 * port), trusting the `pebble-tls-root.pem` in `importDir` and keeping its state in `stateDir`;
 * waits until both sockets listen (fails with its log if it exits). */
async function startWorkerd({ importDir = dir, stateDir = path.join(dir, 'state'), http01Port = ca.httpPort } = {}) {
  const control = await freePort();
  const log = path.join(dir, 'workerd.log');
  const child = processes.start(workerdBinary(), ['serve', CONFIG, 'config', '--verbose',
    '-I', importDir, // embed "/pebble-tls-root.pem" in config.capnp reads the root of this run
    '-s', `control=127.0.0.1:${control}`, '-s', `http01=127.0.0.1:${http01Port}`,
    '-d', `state=${stateDir}`], 'workerd.log');
  await waitForPort(control, 30_000, 'workerd (control socket)', child, log);
  await waitForPort(http01Port, 10_000, 'workerd (http01 socket)', child, log);
  return { child, control: `http://127.0.0.1:${control}` };
}


/** The CPU time (user + system, ms) the process `pid` has used, from /proc. */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
}

/** Asks the Worker for a certificate for `name`; resolves with the Worker's JSON answer, the
 * wall time and the CPU workerd spent. */
async function order(name) {
  const started = Date.now();
  const cpuBefore = cpuMs(worker.child.pid);
  const res = await fetch(`${worker.control}/order`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ directory: ca.directory, names: [name], contact: CONTACT }),
    signal: AbortSignal.timeout(90_000),
  });
  const result = await res.json();
  const ms = Date.now() - started;
  const cpu = cpuMs(worker.child.pid) - cpuBefore;
  if (res.status !== 200) {
    const log = fs.readFileSync(path.join(dir, 'pebble.log'), 'utf8').slice(-3000);
    assert.fail(`the Worker's order failed (${res.status}): ${JSON.stringify(result)}\npebble.log:\n${log}`);
  }
  return { result, ms, cpu };
}

/** The PEM blocks of a bundle. */
const pemBlocks = (pem) => pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || [];

/** Checks an issued certificate: it names `name` alone, chains through Pebble's
 * intermediate to Pebble's issuing root, and certifies the key the engine handed over. */
async function checkChain(certificate, name) {
  const blocks = pemBlocks(certificate.chainPem);
  assert.ok(blocks.length >= 2, 'leaf and intermediate');
  const leaf = new crypto.X509Certificate(blocks[0]);
  const intermediate = new crypto.X509Certificate(await httpsText(`${ca.management}/intermediates/0`, ca.tlsRoot));
  const root = new crypto.X509Certificate(await httpsText(`${ca.management}/roots/0`, ca.tlsRoot));
  assert.strictEqual(leaf.subjectAltName, `DNS:${name}`);
  assert.ok(leaf.checkIssued(intermediate), 'leaf issued by the intermediate');
  assert.ok(leaf.verify(intermediate.publicKey), 'leaf signature verifies with the intermediate key');
  assert.ok(intermediate.checkIssued(root), 'intermediate issued by the root');
  assert.ok(intermediate.verify(root.publicKey), 'intermediate signature verifies with the root key');
  assert.strictEqual(new crypto.X509Certificate(blocks[1]).fingerprint256, intermediate.fingerprint256);
  assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(certificate.privateKeyPem)), 'key matches');
  assert.ok(new Date(leaf.validTo) > new Date(), 'not expired');
}

/** The storage keys of the Worker's account object. */
async function storageKeys() {
  const res = await fetch(`${worker.control}/state`, { signal: AbortSignal.timeout(10_000) });
  assert.strictEqual(res.status, 200);
  return res.json();
}

before(async () => {
  assert.ok(fs.existsSync(WEB_BUILD), `no web build at ${WEB_BUILD}: cargo run -p wasm-build -- js --web`);
  workerdBinary(); // fail first, with the reason, if the runtime is missing
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certsmith-workerd-e2e-'));
  processes = new Processes(dir);
  ca = await startPebble(processes, dir);
  fs.copyFileSync(ca.tlsRoot, path.join(dir, 'pebble-tls-root.pem'));
  fs.mkdirSync(path.join(dir, 'state'));
  worker = await startWorkerd();
});

after(async () => {
  if (processes) await processes.stopAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('a Worker gets a real certificate from Pebble inside workerd (HTTP-01 by the Worker)',
  { timeout: 120_000 }, async () => {
  const { result, ms, cpu } = await order(NAMES[0]);
  assert.strictEqual(result.accountCreated, true);
  assert.match(result.accountUrl, /^https:\/\/localhost:\d+\//);
  assert.strictEqual(result.certificate.kind, 'certificate');
  await checkChain(result.certificate, NAMES[0]);
  firstAccountUrl = result.accountUrl;
  // The account and the certificate are in the Durable Object's storage; the challenge token
  // and the order snapshot were removed when the order ended.
  assert.deepStrictEqual((await storageKeys()).sort(),
    [`accounts/${ca.directory}`, `certs/${NAMES[0]}`].sort());
  console.log(`workerd: issued ${NAMES[0]} in ${ms} ms (workerd CPU ${cpu} ms) with ${result.requestsSent} requests`);
});

test('the account outlives a restart of workerd (Durable Object on local disk)', { timeout: 120_000 }, async () => {
  assert.ok(firstAccountUrl, 'the first order ran');
  await processes.stop(worker.child);
  worker = await startWorkerd();
  const { result, ms } = await order(NAMES[1]);
  assert.strictEqual(result.accountCreated, false, 'the stored account is used');
  assert.strictEqual(result.accountUrl, firstAccountUrl);
  await checkChain(result.certificate, NAMES[1]);
  assert.deepStrictEqual((await storageKeys()).sort(),
    [`accounts/${ca.directory}`, `certs/${NAMES[0]}`, `certs/${NAMES[1]}`].sort());
  console.log(`workerd (restarted): issued ${NAMES[1]} with the stored account in ${ms} ms`);
});

test('the HTTP-01 socket answers challenges only', { timeout: 30_000 }, async () => {
  const base = `http://127.0.0.1:${ca.httpPort}`;
  const status = async (method, urlPath) =>
    (await fetch(`${base}${urlPath}`, { method, signal: AbortSignal.timeout(10_000) })).status;
  assert.strictEqual(await status('POST', '/order'), 405); // the control API is not on this port
  assert.strictEqual(await status('GET', '/order'), 404);
  assert.strictEqual(await status('GET', '/state'), 404);
  assert.strictEqual(await status('GET', '/.well-known/acme-challenge/unknown-token'), 404);
  assert.strictEqual(await status('GET', '/.well-known/acme-challenge/..%2Fstate'), 404);
  assert.strictEqual(await status('PUT', '/.well-known/acme-challenge/token'), 405);
});

test('a Worker trusting another TLS root cannot reach Pebble (the config\'s root is what is trusted)',
  { timeout: 60_000 }, async () => {
  // The same config with an unrelated root in the import dir, its own state and ports.
  const other = fs.mkdtempSync(path.join(dir, 'other-'));
  require('node:child_process').execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt',
    'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=unrelated root', '-keyout', 'key.pem',
    '-out', 'pebble-tls-root.pem'], { cwd: other, stdio: 'pipe', timeout: 20_000 });
  fs.mkdirSync(path.join(other, 'state'));
  const distrustful = await startWorkerd({ importDir: other, stateDir: path.join(other, 'state'),
    http01Port: await freePort() });
  try {
    const res = await fetch(`${distrustful.control}/order`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ directory: ca.directory, names: [NAMES[0]], contact: CONTACT }),
      signal: AbortSignal.timeout(50_000),
    });
    const { error } = await res.json();
    assert.strictEqual(res.status, 502);
    assert.strictEqual(error.kind, 'transport', JSON.stringify(error));
    assert.match(error.message, /certificate/i, error.message);
    console.log(`untrusted: ${error.message}`);
  } finally {
    await processes.stop(distrustful.child);
  }
});
