// The HTTP-01 responder Worker (edge/workers/responder.js, run with edge/workers/responder.capnp)
// under workerd: the Spin plugin's hostile-request table (plugin-spin/README.md) against the
// running Worker, and end to end: Pebble validates against the Worker while `certsmith issue
// --http-edge` drives the order and publishes the token through the Worker's admin API into
// its KV namespace.
// Every process started here is killed by its PID in after().
//
//   (cd tests && npm ci) && node --test tests/workerd/
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');

const { Processes, freePort, waitForPort, startPebble, httpsText } = require('../pebble.cjs');

const NAME = 'responder-e2e.example.test';
const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const THUMB = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'; // RFC 7638 section 3.1's thumbprint
const SECRET = crypto.randomBytes(32).toString('hex');
/** The shipped Worker's workerd config (it embeds responder.js from the same directory). */
const RESPONDER_CONFIG = path.resolve(__dirname, '..', '..', 'edge/workers/responder.capnp');
const CERTSMITH = process.env.CERTSMITH_BIN || path.resolve(__dirname, '..', '..', 'target/debug/certsmith');
let dir;
let processes;
let ca;
let responder; // base URL of the responder with the admin secret, on Pebble's HTTP-01 port
let closed; // base URL of a responder without a secret

/** The workerd binary from tests/node_modules (npm `workerd`); throws how to install it. */
function workerdBinary() {
  try {
    return require(path.join(__dirname, '..', 'node_modules', 'workerd')).default;
  } catch (e) {
    throw new Error(`workerd is not installed (run \`npm ci\` in tests/; .ci/run does): ${e.message}`);
  }
}

/** Starts the responder on 127.0.0.1:`port` with `secret` (may be empty) and its own KV dir. */
async function startResponder(port, secret, name) {
  const kv = fs.mkdtempSync(path.join(dir, `${name}-kv-`));
  const child = processes.start(workerdBinary(), ['serve', '--experimental', '--verbose',
    RESPONDER_CONFIG, 'config', '-s', `http=127.0.0.1:${port}`, '-d', `kv-disk=${kv}`],
  `${name}.log`, { ADMIN_SECRET: secret });
  await waitForPort(port, 30_000, `workerd (${name})`, child, path.join(dir, `${name}.log`));
  return `http://127.0.0.1:${port}`;
}


/** Sends a request with the path exactly as given (no normalisation); resolves
 * `{status, headers, body}`. */
function send(base, method, rawPath, { headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { method, path: rawPath, headers, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${rawPath}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

before(async () => {
  workerdBinary();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certsmith-responder-'));
  processes = new Processes(dir);
  ca = await startPebble(processes, dir);
  responder = await startResponder(ca.httpPort, SECRET, 'responder');
  closed = await startResponder(await freePort(), '', 'closed');
});

after(async () => {
  if (processes) await processes.stopAll();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const challenge = (token) => `/.well-known/acme-challenge/${token}`;
const adminPath = (token) => `/.well-known/certsmith/http01/${token}`;
const bearer = { authorization: `Bearer ${SECRET}` };

test('the responder answers the Spin plugin\'s request table', { timeout: 60_000 }, async () => {
  // [what, base, method, path, options, status, body (first line) or undefined, headers]
  const table = [
    ['unknown token', responder, 'GET', challenge(TOKEN), {}, 404, 'unknown token'],
    ['plain traversal', responder, 'GET', challenge('../x'), {}, 400, 'malformed token'],
    ['encoded traversal', responder, 'GET', challenge('..%2fx'), {}, 400, 'malformed token'],
    ['encoded dot', responder, 'GET', challenge('%2e%2e'), {}, 400, 'malformed token'],
    ['NUL', responder, 'GET', challenge('abc%00'), {}, 400, 'malformed token'],
    ['padding', responder, 'GET', challenge('abc='), {}, 400, 'malformed token'],
    ['overlong token', responder, 'GET', challenge('a'.repeat(129)), {}, 400, 'malformed token'],
    ['encoded prefix', responder, 'GET', '/.well-known/%61cme-challenge/x', {}, 404, 'not found'],
    ['other path', responder, 'GET', '/', {}, 404, 'not found'],
    ['POST to a challenge', responder, 'POST', challenge(TOKEN), {}, 405, 'method not allowed', { allow: 'GET, HEAD' }],
    ['admin, no bearer', responder, 'PUT', adminPath(TOKEN), { body: `${TOKEN}.${THUMB}` }, 401,
      'missing or wrong bearer token', { 'www-authenticate': 'Bearer realm="certsmith"' }],
    ['admin, wrong bearer', responder, 'PUT', adminPath(TOKEN), { headers: { authorization: 'Bearer nope' },
      body: `${TOKEN}.${THUMB}` }, 401, 'missing or wrong bearer token'],
    ['admin, POST', responder, 'POST', adminPath(TOKEN), { headers: bearer }, 405, 'method not allowed',
      { allow: 'PUT, DELETE' }],
    ['admin, traversal', responder, 'PUT', adminPath('..%2fx'), { headers: bearer, body: 'x' }, 400, 'malformed token'],
    ['admin, 100 kB body', responder, 'PUT', adminPath(TOKEN), { headers: bearer, body: 'a'.repeat(100_000) }, 413,
      'body over 1024 bytes'],
    ['admin, another token', responder, 'PUT', adminPath(TOKEN), { headers: bearer, body: `abc.${THUMB}` }, 422,
      'key authorization is for another token'],
    ['admin, no dot', responder, 'PUT', adminPath(TOKEN), { headers: bearer, body: TOKEN }, 422,
      'key authorization must be <token>.<thumbprint>'],
    ['admin, trailing newline', responder, 'PUT', adminPath(TOKEN), { headers: bearer, body: `${TOKEN}.${THUMB}\n` },
      422, 'thumbprint must be 43 base64url characters (SHA-256)'],
    ['admin without a secret', closed, 'PUT', adminPath(TOKEN), { headers: { authorization: 'Bearer ' },
      body: `${TOKEN}.${THUMB}` }, 404, 'admin API disabled (no admin_secret)'],
  ];
  for (const [what, base, method, rawPath, options, status, reason, headers = {}] of table) {
    const res = await send(base, method, rawPath, options);
    assert.strictEqual(res.status, status, `${what}: ${method} ${rawPath} -> ${res.status} ${res.body}`);
    assert.strictEqual(res.body, `${reason}\n`, what);
    assert.strictEqual(res.headers['cache-control'], 'no-store', what);
    for (const [name, value] of Object.entries(headers)) assert.strictEqual(res.headers[name], value, what);
  }
  // Nothing hostile was stored.
  assert.strictEqual((await send(responder, 'GET', challenge(TOKEN))).status, 404);

  // The good cases: publish, read (GET, HEAD, with a query), withdraw.
  assert.strictEqual((await send(responder, 'PUT', adminPath(TOKEN), { headers: bearer, body: `${TOKEN}.${THUMB}` }))
    .status, 204);
  const got = await send(responder, 'GET', `${challenge(TOKEN)}?ignored=1`);
  assert.deepStrictEqual([got.status, got.body, got.headers['content-type']], [200, `${TOKEN}.${THUMB}`, 'text/plain']);
  const head = await send(responder, 'HEAD', challenge(TOKEN));
  assert.deepStrictEqual([head.status, head.body, head.headers['cache-control']], [200, '', 'no-store']);
  assert.strictEqual((await send(responder, 'DELETE', adminPath(TOKEN), { headers: bearer })).status, 204);
  assert.strictEqual((await send(responder, 'GET', challenge(TOKEN))).status, 404);
  assert.strictEqual((await send(responder, 'DELETE', adminPath(TOKEN), { headers: bearer })).status, 204);
});

test('certsmith issue --http-edge gets a certificate with Pebble validating against the Worker',
  { timeout: 120_000 }, async () => {
    assert.ok(fs.existsSync(CERTSMITH), `no certsmith binary at ${CERTSMITH} (cargo build, or set CERTSMITH_BIN)`);
    const secretFile = path.join(dir, 'edge-secret');
    fs.writeFileSync(secretFile, SECRET, { mode: 0o600 });
    const started = Date.now();
    const { code, stdout, stderr } = await new Promise((resolve, reject) => {
      const child = spawn(CERTSMITH, ['issue', '-d', NAME, '--server', ca.directory, '--ca-cert', ca.tlsRoot,
        '--state-dir', path.join(dir, 'certsmith'), '--email', 'responder-e2e@example.test', '--accept-tos',
        '--json', '--http-edge', responder, '--edge-secret-file', secretFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      processes.children.push(child);
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      const timer = setTimeout(() => processes.stop(child), 90_000);
      child.on('error', reject);
      child.on('exit', (c, signal) => {
        clearTimeout(timer);
        resolve({ code: c ?? signal, stdout: out, stderr: err });
      });
    });
    const ms = Date.now() - started;
    assert.strictEqual(code, 0, `certsmith issue failed (${code}):\n${stderr}\n${stdout}`);
    const result = JSON.parse(stdout);
    const blocks = fs.readFileSync(result.fullchain, 'utf8')
      .match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g);
    const leaf = new crypto.X509Certificate(blocks[0]);
    const intermediate = new crypto.X509Certificate(blocks[1]);
    const root = new crypto.X509Certificate(await httpsText(`${ca.management}/roots/0`, ca.tlsRoot));
    assert.strictEqual(leaf.subjectAltName, `DNS:${NAME}`);
    assert.ok(leaf.verify(intermediate.publicKey), 'leaf signed by the intermediate');
    assert.ok(intermediate.checkIssued(root) && intermediate.verify(root.publicKey),
      'intermediate signed by Pebble\'s root');
    assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(fs.readFileSync(result.key))), 'key matches');
    // The Worker published and withdrew the token without a KV failure, and nothing is left.
    const log = fs.readFileSync(path.join(dir, 'responder.log'), 'utf8');
    assert.ok(!/key-value store:/.test(log), `store errors in the Worker's log:\n${log}`);
    console.log(`certsmith issue --http-edge (Worker under workerd): ${NAME} in ${ms} ms, `
      + `${result.acmeRequests} requests`);
  });
