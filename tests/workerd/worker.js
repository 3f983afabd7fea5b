// An ACME Worker: the engine's `web` build getting certificates from inside workerd (or
// Cloudflare Workers). README's Workers section quotes this file between the README markers
// verbatim (tests/deno/readme.test.ts checks it); tests/workerd/order.e2e.test.cjs runs it.
//
// One Durable Object (`AcmeAccount`) keeps the state in its storage: the account key and URL
// per CA directory (`accounts/<directory>`), the snapshot of an order in flight
// (`orders/<name>`), the HTTP-01 key authorizations (`http01/<token>`) and the certificates
// (`certs/<name>`). The CA's HTTP-01 requests reach the `Http01` entrypoint, which answers
// from that storage; the default entrypoint starts orders. The engine's requests go out
// through the global fetch(), carried out by the driver the Node and Deno tests use
// (tests/node/acme-driver.cjs, embedded as a CommonJS module).

// README begin
import { DurableObject, WorkerEntrypoint } from 'cloudflare:workers';
import { Client, generateKey, initSync } from './certsmith_core.js';
import wasm from './certsmith_core_bg.wasm'; // a WebAssembly.Module, as workerd and wrangler import .wasm
import driver from './acme-driver.cjs'; // drive(client, ops, {fetch, deploy, cleanup, save, signal})

initSync({ module: wasm });

/** The Durable Object holding the account: every order and challenge goes through it. */
const account = (env) => env.ACCOUNTS.get(env.ACCOUNTS.idFromName('account'));

export class AcmeAccount extends DurableObject {
  /** Orders a certificate for `names` from the CA at `directory` over HTTP-01; the account is
   * created on the first order and its key and URL kept in storage for the next ones.
   * Returns `{accountUrl, accountCreated, certificate, requestsSent}` or `{error}`. */
  async order({ directory, names, contact }) {
    const storage = this.ctx.storage;
    const saved = await storage.get(`accounts/${directory}`);
    const client = new Client(directory, saved ? saved.keyPem : generateKey('p256'), saved?.url);
    const ops = saved ? [] : [client.start({ kind: 'new-account', contact, termsOfServiceAgreed: true })];
    const order = client.start({ kind: 'order', identifiers: names, challengeTypes: ['http-01'] });
    ops.push(order);
    let results;
    try {
      results = await driver.drive(client, ops, {
        // Stored before the engine asks the CA to validate (the output gate holds the request).
        deploy: (challenge) => storage.put(`http01/${challenge.token}`, challenge.keyAuthorization),
        cleanup: (challenge) => storage.delete(`http01/${challenge.token}`),
        save: (op, snapshot) => storage.put(`orders/${names[0]}`, snapshot),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      return { error: { kind: 'host', message: String(e) } };
    }
    const failed = ops.map((op) => results.get(op).error).find(Boolean);
    if (failed) return { error: { ...failed, message: failed.message } }; // plain data for RPC
    if (!saved) await storage.put(`accounts/${directory}`, { keyPem: client.accountKeyPem, url: client.accountUrl });
    const certificate = results.get(order).outcome;
    await storage.delete(`orders/${names[0]}`);
    const { chainPem, privateKeyPem } = certificate;
    await storage.put(`certs/${names[0]}`, { chainPem, privateKeyPem });
    return { accountUrl: client.accountUrl, accountCreated: !saved, certificate, requestsSent: client.requestsSent };
  }

  /** The key authorization published for `token`, or undefined. */
  async keyAuthorization(token) {
    return this.ctx.storage.get(`http01/${token}`);
  }

  /** The names of the keys in storage (not the values: they hold private keys). */
  async keys() {
    return [...(await this.ctx.storage.list()).keys()];
  }
}

/** The port the CA validates on: GET/HEAD `/.well-known/acme-challenge/<token>`, nothing else. */
export class Http01 extends WorkerEntrypoint {
  /** Answers a challenge from the account object's storage; 404 for anything else. */
  async fetch(request) {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return new Response('method not allowed', { status: 405, headers: { allow: 'GET, HEAD' } });
    }
    const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,256})$/.exec(new URL(request.url).pathname);
    const answer = token ? await account(this.env).keyAuthorization(token[1]) : undefined;
    if (answer === undefined) return new Response('not found', { status: 404 });
    return new Response(request.method === 'HEAD' ? null : answer, { headers: { 'cache-control': 'no-store' } });
  }
}

export default {
  /** The control API: `POST /order {directory, names, contact}` runs an order to its end and
   * answers its result as JSON (502 with `{error}` if it failed); `GET /state` lists the
   * storage keys. */
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (request.method === 'POST' && pathname === '/order') {
      const { directory, names, contact = [] } = await request.json();
      const result = await account(env).order({ directory, names, contact });
      return Response.json(result, { status: result.error ? 502 : 200 });
    }
    if (request.method === 'GET' && pathname === '/state') return Response.json(await account(env).keys());
    return new Response('not found', { status: 404 });
  },
};
// README end
