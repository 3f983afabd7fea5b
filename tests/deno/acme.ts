// Getting a certificate with the engine's `web` build under Deno. README's Deno section
// quotes the part between the README markers verbatim (tests/deno/readme.test.ts checks it):
// it loads the engine, answers HTTP-01 with Deno.serve, and has the fetch driver
// (tests/node/acme-driver.cjs, the same file the Node test and the Worker use) carry out the
// engine's actions with Deno's fetch. tests/deno/order.e2e.test.ts runs it against Pebble.
//
// Permissions: --allow-read for the .wasm, --allow-net for the CA and the HTTP-01 port.

// README begin
import { Client, generateKey, initSync } from '../../target/wasm/web/certsmith_core.js';
import driver from '../node/acme-driver.cjs'; // drive(client, ops, {fetch, deploy, cleanup, …})

initSync({ module: await Deno.readFile(new URL('../../target/wasm/web/certsmith_core_bg.wasm', import.meta.url)) });

/** Creates an account and gets a certificate for `names` over HTTP-01, answered by Deno.serve
 * on `httpPort` while the order runs; `caCerts`: PEM roots to trust, for a private CA. */
export async function issue(
  { directoryUrl, names, contact, httpPort, hostname = '0.0.0.0', caCerts, timeoutMs = 60_000 }: IssueOptions,
): Promise<Issued> {
  const answers = new Map<string, string>(); // challenge path -> key authorization
  const hits: string[] = []; // the paths the CA asked for
  const server = Deno.serve({ hostname, port: httpPort, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    hits.push(path);
    const answer = answers.get(path);
    return answer === undefined ? new Response('not found', { status: 404 }) : new Response(answer);
  });
  const http = caCerts ? Deno.createHttpClient({ caCerts }) : undefined; // or deno run --cert / DENO_CERT
  try {
    const client = new Client(directoryUrl, generateKey('p256'));
    const account = client.start({ kind: 'new-account', contact, termsOfServiceAgreed: true });
    const order = client.start({ kind: 'order', identifiers: names, challengeTypes: ['http-01'] });
    const results = await driver.drive(client, [account, order], {
      fetch: (url: string, init: RequestInit) => fetch(url, { ...init, client: http }),
      deploy: (c: Challenge) => void answers.set(c.path, c.keyAuthorization),
      cleanup: (c: Challenge) => void answers.delete(c.path),
      signal: AbortSignal.timeout(timeoutMs),
    });
    for (const op of [account, order]) {
      if (results.get(op).error) throw results.get(op).error; // the engine's typed error: kind, message, problem…
    }
    const { outcome } = results.get(order); // {chainPem, privateKeyPem, orderUrl, certificateUrl, …}
    return { account: results.get(account).outcome, certificate: outcome, hits, requestsSent: client.requestsSent };
  } finally {
    http?.close();
    await server.shutdown();
  }
}
// README end

/** What `issue` needs. */
export interface IssueOptions {
  /** The CA's directory URL (`https://…/dir`). */
  directoryUrl: string;
  /** DNS names for the certificate. */
  names: string[];
  /** Account contacts, e.g. `['mailto:you@example.com']`. */
  contact: string[];
  /** The port the CA validates HTTP-01 on (80 for a public CA). */
  httpPort: number;
  /** Address to serve HTTP-01 on (default 0.0.0.0). */
  hostname?: string;
  /** Extra trusted roots (PEM) for the CA's TLS, e.g. a test CA's; else the system's. */
  caCerts?: string[];
  /** Gives up after this many ms (default 60 s). */
  timeoutMs?: number;
}

/** What `issue` did: the account and certificate outcomes and the HTTP-01 paths the CA fetched. */
export interface Issued {
  account: { url: string; status: string; created: boolean; contact: string[] };
  certificate: { chainPem: string; privateKeyPem: string; orderUrl: string; certificateUrl: string };
  hits: string[];
  requestsSent: number;
}

/** The fields of a `deploy`/`cleanup` challenge that HTTP-01 needs. */
interface Challenge {
  path: string;
  keyAuthorization: string;
}
