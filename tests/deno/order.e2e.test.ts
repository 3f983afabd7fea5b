// End to end under Deno: the engine's `web` build gets a real certificate from a local Pebble
// through tests/deno/acme.ts (the module README's Deno section quotes): Deno's fetch with
// Pebble's TLS root trusted, HTTP-01 answered by Deno.serve on the port Pebble validates, the
// chain checked with `openssl verify` against Pebble's issuing root. Run from the repository
// root (the permissions are the narrowest the test needs; paths are relative to it):
//
//   tests/node_modules/.bin/deno test --allow-read=target/wasm/web,target/deno-e2e \
//     --allow-write=target/deno-e2e --allow-net=127.0.0.1,localhost \
//     --allow-run=openssl,pebble,pebble-challtestsrv tests/deno/
import assert from 'node:assert/strict';
import { issue } from './acme.ts';
import { openssl, startPebble } from './pebble.ts';

const NAME = 'deno-e2e.example.test';
/** Where the test's temporary directories go (inside the build's target/, see the permissions). */
const TMP = new URL('../../target/deno-e2e', import.meta.url).pathname;

/** The PEM certificate blocks of a bundle. */
const pemBlocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];

/** GETs `url` with an HTTP client trusting `rootPem`; the body as text. */
async function getText(url: string, rootPem: string): Promise<string> {
  const client = Deno.createHttpClient({ caCerts: [rootPem] });
  try {
    const res = await fetch(url, { client, signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200, `GET ${url}`);
    return await res.text();
  } finally {
    client.close();
  }
}

Deno.test('the web build gets a real certificate from Pebble under Deno (HTTP-01 by Deno.serve)', async () => {
  const pebble = await startPebble(TMP);
  try {
    const started = performance.now();
    let issued;
    try {
      issued = await issue({
        directoryUrl: pebble.directory,
        names: [NAME],
        contact: ['mailto:deno-e2e@example.test'],
        httpPort: pebble.httpPort,
        hostname: '127.0.0.1',
        caCerts: [pebble.tlsRootPem],
      });
    } catch (e) {
      throw new Error(`the order failed: ${e} ${JSON.stringify(e)}\npebble.log:\n${await pebble.log()}`);
    }
    const ms = Math.round(performance.now() - started);

    assert.equal(issued.account.status, 'valid');
    assert.equal(issued.account.created, true);
    assert.deepEqual(issued.account.contact, ['mailto:deno-e2e@example.test']);
    // Pebble's VA fetched the one challenge path from our Deno.serve (from each of its
    // validation perspectives: several times).
    assert.ok(issued.hits.length >= 1, 'Pebble fetched the challenge');
    assert.equal(new Set(issued.hits).size, 1, `hits: ${issued.hits}`);
    assert.match(issued.hits[0], /^\/\.well-known\/acme-challenge\/[A-Za-z0-9_-]+$/);

    // The chain: leaf + Pebble's intermediate, which Pebble's issuing root certifies.
    const { chainPem, privateKeyPem } = issued.certificate;
    const blocks = pemBlocks(chainPem);
    assert.ok(blocks.length >= 2, 'leaf and intermediate');
    const root = await getText(`${pebble.management}/roots/0`, pebble.tlsRootPem);
    const intermediate = await getText(`${pebble.management}/intermediates/0`, pebble.tlsRootPem);
    assert.equal(blocks[1], pemBlocks(intermediate)[0], 'the chain carries Pebble\'s intermediate');
    const file = (name: string, text: string) => Deno.writeTextFile(`${pebble.dir}/${name}`, text);
    await file('leaf.pem', `${blocks[0]}\n`);
    await file('untrusted.pem', `${blocks.slice(1).join('\n')}\n`);
    await file('pebble-root.pem', root);
    await file('key.pem', privateKeyPem);
    const verified = await openssl(pebble.dir, 'verify', '-CAfile', 'pebble-root.pem', '-untrusted',
      'untrusted.pem', '-purpose', 'sslserver', '-verify_hostname', NAME, 'leaf.pem');
    assert.equal(verified.trim(), 'leaf.pem: OK');
    // The same chain does not verify against an unrelated root (the check is not vacuous).
    await assert.rejects(openssl(pebble.dir, 'verify', '-CAfile', 'root.pem', '-untrusted', 'untrusted.pem',
      'leaf.pem'));
    // The leaf names NAME (and only it), and its key is the one the engine handed over.
    const san = await openssl(pebble.dir, 'x509', '-in', 'leaf.pem', '-noout', '-ext', 'subjectAltName');
    assert.deepEqual(san.split('\n').slice(1).map((l) => l.trim()).filter(Boolean), [`DNS:${NAME}`]);
    assert.equal(await openssl(pebble.dir, 'x509', '-in', 'leaf.pem', '-noout', '-pubkey'),
      await openssl(pebble.dir, 'pkey', '-in', 'key.pem', '-pubout'), 'the leaf certifies the engine\'s key');
    assert.ok(issued.certificate.certificateUrl.startsWith(pebble.directory.replace('/dir', '')));
    console.log(`Deno ${Deno.version.deno}: issued ${NAME} in ${ms} ms with ${issued.requestsSent} requests`);
  } finally {
    await pebble.stop();
    await Deno.remove(pebble.dir, { recursive: true });
  }
});
