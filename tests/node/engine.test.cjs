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
