// The engine's JS build (wasm-bindgen, target/wasm/js) under Node: a JWS that Node's own
// crypto verifies, RFC 7638 / RFC 8555 values computed independently here, and byte-equal
// results to the native crate (ECDSA nonces are deterministic, RFC 6979).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.resolve(__dirname, '..', '..');
const engine = require(path.join(root, 'target/wasm/js/certsmith_core.js'));
const knownAnswers = path.join(root, 'target/debug/examples/known_answers');

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const PAYLOAD = '{"identifiers":[{"type":"dns","value":"example.com"}]}';

function jwkOf(jws) {
  const header = JSON.parse(Buffer.from(jws.protected, 'base64url'));
  return { header, jwk: header.jwk };
}

function thumbprintOf(jwk) {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return b64url(crypto.createHash('sha256').update(canonical).digest());
}

for (const [kind, hash] of [['p256', 'sha256'], ['p384', 'sha384']]) {
  test(`JWS from the JS build verifies with Node's crypto (${kind})`, () => {
    const pem = engine.generateKey(kind);
    const jws = JSON.parse(engine.signJws(pem, undefined, 'n0nce', 'https://ca.example/new-acct',
      Buffer.from(PAYLOAD)));
    const { header, jwk } = jwkOf(jws);
    assert.strictEqual(header.nonce, 'n0nce');
    assert.strictEqual(header.url, 'https://ca.example/new-acct');
    assert.strictEqual(header.alg, kind === 'p256' ? 'ES256' : 'ES384');
    const publicKey = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    const ok = crypto.verify(hash, Buffer.from(`${jws.protected}.${jws.payload}`),
      { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(jws.signature, 'base64url'));
    assert.ok(ok, 'signature verifies');
    assert.strictEqual(Buffer.from(jws.payload, 'base64url').toString(), PAYLOAD);
    // The private key's public half is the JWK.
    const fromPem = crypto.createPublicKey(pem).export({ format: 'jwk' });
    assert.deepStrictEqual({ x: fromPem.x, y: fromPem.y }, { x: jwk.x, y: jwk.y });
  });
}

test('thumbprint, key authorization and DNS-01 value match RFC 7638 / RFC 8555 computed here', () => {
  const pem = engine.generateKey('p256');
  const jwk = crypto.createPublicKey(pem).export({ format: 'jwk' });
  const thumbprint = engine.jwkThumbprint(pem);
  assert.strictEqual(thumbprint, thumbprintOf(jwk));
  const ka = engine.keyAuthorization('token-123_ABC', thumbprint);
  assert.strictEqual(ka, `token-123_ABC.${thumbprint}`);
  assert.strictEqual(engine.dns01Value(ka), b64url(crypto.createHash('sha256').update(ka).digest()));
  assert.strictEqual(engine.dns01RecordName('*.example.com'), '_acme-challenge.example.com');
});

test('the JS build and the native crate give byte-identical results', () => {
  for (const kind of ['p256', 'p384']) {
    const pem = engine.generateKey(kind);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'certsmith-')), 'key.pem');
    fs.writeFileSync(file, pem, { mode: 0o600 });
    const native = JSON.parse(execFileSync(knownAnswers, [file], { encoding: 'utf8' }));
    fs.rmSync(path.dirname(file), { recursive: true });
    const thumbprint = engine.jwkThumbprint(pem);
    const ka = engine.keyAuthorization('token-123_ABC', thumbprint);
    assert.strictEqual(native.thumbprint, thumbprint);
    assert.strictEqual(native.keyAuthorization, ka);
    assert.strictEqual(native.dns01, engine.dns01Value(ka));
    const jws = engine.signJws(pem, 'https://ca.example/acct/1', 'nonce-xyz',
      'https://ca.example/new-order', Buffer.from(PAYLOAD));
    assert.strictEqual(jws, native.jws, `${kind} JWS identical`);
    // A seeded random source draws the same key in both builds (and again the same).
    const seed = new Uint8Array(32).fill(7);
    assert.strictEqual(engine.generateKey(kind, seed), native.seededKeys[kind], `${kind} seeded key`);
    assert.strictEqual(engine.generateKey(kind, seed), native.seededKeys[kind]);
    assert.notStrictEqual(engine.generateKey(kind, new Uint8Array(32).fill(8)), native.seededKeys[kind]);
    assert.throws(() => engine.generateKey(kind, new Uint8Array(31)), /seed of 31 bytes/);
  }
});

test('errors are thrown as Error objects naming the input', () => {
  assert.throws(() => engine.jwkThumbprint('not a key'), (e) => e instanceof Error && /private key PEM/.test(e.message));
  assert.throws(() => engine.generateKey('p521'), /p256 or p384/);
});

test('a CSR from the JS build is accepted by openssl when it is installed', (t) => {
  let hasOpenssl = true;
  try { execFileSync('openssl', ['version']); } catch { hasOpenssl = false; }
  if (!hasOpenssl) return t.skip('openssl not installed');
  const pem = engine.generateKey('p256');
  const der = engine.buildCsr(['a.example.com', 'b.example.com'], pem);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'certsmith-')), 'req.der');
  fs.writeFileSync(file, der);
  const text = execFileSync('openssl', ['req', '-inform', 'DER', '-in', file, '-noout', '-verify', '-text'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  fs.rmSync(path.dirname(file), { recursive: true });
  assert.match(text, /DNS:a\.example\.com, DNS:b\.example\.com/);
});

// The Client class without a network: the actions it hands out, the responses it takes in,
// and its typed errors (scripted here; tests/node/order.e2e.test.cjs drives it against Pebble).
test('the JS Client: actions as plain objects, responses in, typed errors out', () => {
  const client = new engine.Client('https://ca.test/dir', engine.generateKey('p256'));
  assert.strictEqual(client.accountUrl, undefined);
  assert.strictEqual(client.directory, undefined);
  // Bad input is thrown before anything is sent, with the engine's kind.
  assert.throws(() => client.start({ kind: 'order', identifiers: ['not a name!'] }),
    (e) => e instanceof Error && e.kind === 'invalid-input' && /not a name!/.test(e.message));
  assert.throws(() => client.start({ kind: 'order', identifiers: ['a.example'], challengeType: ['http-01'] }),
    (e) => e.kind === 'invalid-input' && /challengeType/.test(e.message));
  assert.throws(() => client.start({ kind: 'order', identifiers: ['a.example'], challengeTypes: ['http-02'] }),
    (e) => e.kind === 'invalid-input' && /http-02/.test(e.message));
  assert.throws(() => client.handle(0, 99, { kind: 'response', status: 200 }), (e) => e.kind === 'invalid-state');
  // The two doors name what they could not take.
  assert.throws(() => client.start({ kind: 'bogus' }),
    (e) => e.kind === 'invalid-input' && /bogus/.test(e.message) && /new-account/.test(e.message));
  assert.throws(() => client.start({ kind: 'fetch-account', extra: 1 }),
    (e) => e.kind === 'invalid-input' && /extra/.test(e.message));
  assert.throws(() => client.start({ kind: 'update-account', contact: 'mailto:a@b' }),
    (e) => e.kind === 'invalid-input' && /contact/.test(e.message));
  assert.throws(() => client.handle(0, 99, { kind: 'reply' }),
    (e) => e.kind === 'invalid-input' && /reply/.test(e.message) && /challenge-ready/.test(e.message));

  const op = client.start({ kind: 'order', identifiers: ['a.example', '192.0.2.1'], challengeTypes: ['http-01'] });
  assert.strictEqual(typeof op, 'number');
  const directory = client.poll(1000);
  assert.strictEqual(directory.op, op);
  assert.strictEqual(directory.kind, 'send');
  assert.deepStrictEqual({ ...directory.request, headers: undefined, body: undefined },
    { method: 'GET', url: 'https://ca.test/dir', headers: undefined, body: undefined });
  // The engine names itself in every request (RFC 8555 6.1).
  assert.strictEqual(directory.request.headers.length, 1);
  assert.strictEqual(directory.request.headers[0][0], 'User-Agent');
  assert.match(directory.request.headers[0][1], /^certsmith-core\/\d/);
  assert.ok(directory.request.body instanceof Uint8Array);
  assert.strictEqual(client.poll(1000), undefined);
  assert.strictEqual(client.nextWakeup(), undefined, 'waits for the response');
  const dir = { newNonce: 'https://ca.test/nonce', newAccount: 'https://ca.test/acct', newOrder: 'https://ca.test/order',
    revokeCert: 'https://ca.test/revoke', keyChange: 'https://ca.test/key-change' };
  client.handle(1000, op, { kind: 'response', status: 200, headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(dir)) });
  assert.strictEqual(client.directory.newOrder, 'https://ca.test/order');
  // No account yet, none being created: the order fails with the engine's typed error.
  const failed = client.poll(1000);
  assert.deepStrictEqual(failed, { op, kind: 'failed', error: { kind: 'no-account', fault: 'caller', message: failed.error.message } });
  assert.match(failed.error.message, /no ACME account/);

  // A known account: a nonce is fetched first; a transport error is retried after a backoff,
  // then the operation fails naming the URL.
  const known = new engine.Client('https://ca.test/dir', engine.generateKey('p384'), 'https://ca.test/acct/1',
    { maxServerRetries: 1 });
  assert.strictEqual(known.accountUrl, 'https://ca.test/acct/1');
  const fetchOp = known.start({ kind: 'fetch-account' });
  known.poll(0);
  known.handle(0, fetchOp, { kind: 'response', status: 200, headers: [['Content-Type', 'application/json']], body: JSON.stringify(dir) });
  const nonce = known.poll(0);
  assert.deepStrictEqual([nonce.request.method, nonce.request.url], ['HEAD', 'https://ca.test/nonce']);
  known.handle(0, fetchOp, { kind: 'transport-error', reason: 'connection refused' });
  assert.strictEqual(known.poll(0), undefined);
  assert.ok(known.nextWakeup() > 0, 'a retry is scheduled');
  known.poll(known.nextWakeup());
  known.handle(known.nextWakeup() ?? 5000, fetchOp, { kind: 'transport-error', reason: 'connection refused' });
  const gaveUp = known.poll(10_000);
  assert.strictEqual(gaveUp.kind, 'failed');
  assert.strictEqual(gaveUp.error.kind, 'transport');
  assert.match(gaveUp.error.message, /https:\/\/ca\.test\/nonce: connection refused/);
  assert.strictEqual(known.requestsSent, 3);
});

// A host token before the engine's own; and a host that drops every response header is
// told so, instead of only hearing that Replay-Nonce is missing (what jco users hit when
// fetch's Headers object became an empty list).
test('the User-Agent names the host first, and a response without headers is named', () => {
  const dir = { newNonce: 'https://ca.test/nonce', newAccount: 'https://ca.test/acct', newOrder: 'https://ca.test/order',
    revokeCert: 'https://ca.test/revoke', keyChange: 'https://ca.test/key-change' };
  const client = new engine.Client('https://ca.test/dir', engine.generateKey('p256'), 'https://ca.test/acct/1',
    undefined, 'node-test/1.0');
  const op = client.start({ kind: 'fetch-account' });
  const get = client.poll(0);
  assert.match(get.request.headers[0][1], /^node-test\/1\.0 certsmith-core\//);
  client.handle(0, op, { kind: 'response', status: 200, headers: [['Content-Type', 'application/json']],
    body: JSON.stringify(dir) });
  const head = client.poll(0);
  assert.strictEqual(head.request.method, 'HEAD');
  // A nonce answer without any header fails the operation at once, naming what is missing:
  // the host's loop dropped them (the CA always sends some).
  client.handle(0, op, { kind: 'response', status: 200, headers: [] });
  const failed = client.poll(0);
  assert.strictEqual(failed.kind, 'failed');
  assert.strictEqual(failed.error.kind, 'invalid-input');
  assert.match(failed.error.message, /it has none at all/);
});
