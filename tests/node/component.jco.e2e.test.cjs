// The engine *component* (target/wasm/certsmith_engine.wasm, what `cargo run -p wasm-build --
// component` builds and ./test.sh builds before the Node tests) driven from JS as a user of
// another language would: transpiled by jco (@bytecodealliance/jco, pinned in
// tests/package.json; its output imports `wasi:random` from @bytecodealliance/preview2-shim),
// then run through the loop documented at the top of wit/acme.wit with nothing but the WIT:
// a new account and an HTTP-01 order against a local Pebble (tests/pebble.cjs), Node's
// fetch, tests/pebble.cjs's HTTP-01 responder on Pebble's validation port, the chain checked against Pebble's
// root. It also checks how jco maps the WIT's values (README "Driving the component from
// another language" has the table) and two points of the contract: a misspelled challenge
// type is an error value naming it, after which the instance still works; op ids are plain
// numbers.
//
// This one file is both the test and, in a child process, the client half: Node's global
// fetch trusts Pebble's TLS root only through NODE_EXTRA_CA_CERTS, which is read when a
// process starts (as tests/node/order.e2e.test.cjs does with e2e-order-client.cjs).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { transpileComponent, loadEngine } = require('./jco.cjs');
const { serveHttp01 } = require('../pebble.cjs');

const NAME = 'jco-e2e.example.test';
const USER_AGENT = 'certsmith-jco-e2e/1';
const CHILD_ENV = 'CERTSMITH_JCO_E2E'; // set: this process is the client half

/**
 * The host loop of wit/acme.wit for the jco-transpiled component: drains `poll`, sends each
 * request with fetch, deploys through `deploy(task)`, and waits for an answer in flight or
 * `next-wakeup`, until every op in `ops` is done or failed (or `signal` aborts). Every call
 * that can fail is checked: `handle` throws (a ComponentError) only for a call that does not
 * fit, a bug here, so it ends the loop. Returns a Map op -> {outcome} | {error}.
 */
async function drive(client, ops, { deploy, cleanup, save, onSend, signal }) {
  const now = () => BigInt(Date.now()); // timestamp is u64: a BigInt in jco
  const waiting = new Set(ops);
  const results = new Map();
  const busy = new Set();
  let broken; // the first exception of a task in flight

  const track = (promise) => {
    const p = promise.catch((e) => { broken = broken || e; }).finally(() => busy.delete(p));
    busy.add(p);
  };

  const send = async (op, request) => {
    let input;
    try {
      const res = await fetch(request.url, {
        method: request.method.toUpperCase(), // enum method: 'get' | 'head' | 'post'
        headers: request.headers, // list<tuple<string, string>>: [[name, value], …]
        body: request.method === 'post' ? request.body : undefined, // fetch refuses a GET body
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      });
      input = {
        tag: 'response',
        val: {
          status: res.status,
          // An array of pairs: jco lowers a Headers object to an empty list.
          headers: [...res.headers],
          body: new Uint8Array(await res.arrayBuffer()),
        },
      };
    } catch (e) {
      const reason = e && e.cause ? `${e.message}: ${e.cause.message || e.cause}` : String(e);
      input = { tag: 'transport-error', val: reason };
    }
    client.handle(now(), op, input);
  };

  const solve = async (op, task) => {
    try {
      await deploy(task);
    } catch (e) {
      client.handle(now(), op, { tag: 'challenge-failed', val: { token: task.token, reason: String(e.message || e) } });
      return;
    }
    client.handle(now(), op, { tag: 'challenge-ready', val: task.token });
  };

  while (waiting.size > 0) {
    if (broken) throw broken;
    if (signal.aborted) throw new Error(`the loop ran out of time waiting for ops ${[...waiting].join(', ')}`);
    let out;
    while ((out = client.poll(now())) !== undefined) { // option<output>: undefined for none
      const { op, action } = out;
      switch (action.tag) {
        case 'send': onSend(action.val); track(send(op, action.val)); break;
        case 'deploy': track(solve(op, action.val)); break;
        case 'cleanup': cleanup(action.val); break; // needs no answer
        case 'save': save(op, action.val); break;
        case 'done': results.set(op, { outcome: action.val }); waiting.delete(op); break;
        case 'failed': results.set(op, { error: action.val }); waiting.delete(op); break;
        default: throw new Error(`unknown action ${action.tag}`);
      }
    }
    if (waiting.size === 0 || broken) continue;
    const wakeup = client.nextWakeup(); // option<timestamp>: a BigInt or undefined
    if (busy.size === 0 && wakeup === undefined) {
      throw new Error(`the engine waits for nothing this loop can give (ops ${[...waiting].join(', ')})`);
    }
    const waits = [...busy, new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))];
    let timer;
    if (wakeup !== undefined) {
      waits.push(new Promise((resolve) => { timer = setTimeout(resolve, Math.max(0, Number(wakeup) - Date.now())); }));
    }
    await Promise.race(waits);
    clearTimeout(timer);
  }
  await Promise.allSettled([...busy]);
  if (broken) throw broken;
  return results;
}

/** The client half (child process): prints one JSON report on stdout. */
async function child() {
  const config = JSON.parse(process.env[CHILD_ENV]);
  const { acme, helpers } = await loadEngine(config.jcoDir);
  const responder = await serveHttp01(config.httpPort);
  const { served, hits } = responder;

  const report = { deployed: [], cleaned: [], saved: [], hits, userAgents: new Set() };
  try {
    const client = acme.Client.create({ directoryUrl: config.directory, userAgent: USER_AGENT },
      helpers.generateKey('p256'));
    const order = (challengeTypes) => ({
      tag: 'order',
      val: {
        identifiers: [{ kind: 'dns', value: NAME }],
        challengeTypes,
        certificateKey: { tag: 'generate', val: 'p256' },
      },
    });

    // A misspelled challenge type: an error value (jco throws it as a ComponentError with
    // the engine-error as `payload`), nothing started.
    try {
      report.misspelled = { returned: client.start(order(['http01'])) };
    } catch (e) {
      report.misspelled = { thrown: e.constructor.name, isError: e instanceof Error, message: e.message, payload: e.payload };
    }

    // The same instance still works: the account and the order, driven to the end.
    const account = client.start({
      tag: 'new-account',
      val: { contact: ['mailto:jco-e2e@example.test'], termsOfServiceAgreed: true, onlyReturnExisting: false },
    });
    const issue = client.start(order(['http-01']));
    report.opIds = [account, issue];
    report.opIdTypes = [typeof account, typeof issue];

    const results = await drive(client, [account, issue], {
      deploy: async (task) => {
        report.deployed.push(task);
        if (task.solution.tag !== 'http01') throw new Error(`not an http-01 solution: ${task.solution.tag}`);
        served.set(task.solution.val, task.keyAuthorization); // the path to serve it at
      },
      cleanup: (task) => {
        report.cleaned.push(task.token);
        served.delete(task.solution.val);
      },
      save: (op, snapshot) => report.saved.push({ op, type: typeof snapshot, snapshot: JSON.parse(snapshot) }),
      onSend: (request) => {
        for (const [name, value] of request.headers) if (name.toLowerCase() === 'user-agent') report.userAgents.add(value);
      },
      signal: AbortSignal.timeout(60_000),
    });
    report.account = results.get(account);
    report.order = results.get(issue);
    report.accountUrl = client.accountUrl();
    const sent = client.requestsSent(); // u64: a BigInt
    report.requestsSent = { type: typeof sent, value: Number(sent) };
    client[Symbol.dispose](); // drops the resource (own<client>)
    for (const what of ['intermediates', 'roots']) {
      const res = await fetch(`${config.management}/${what}/0`, { signal: AbortSignal.timeout(10_000) });
      report[what] = await res.text();
    }
  } finally {
    responder.close();
  }
  report.userAgents = [...report.userAgents];
  process.stdout.write(JSON.stringify(report, (key, value) => (typeof value === 'bigint' ? `${value}n` : value)));
}

if (process.env[CHILD_ENV]) {
  child().catch((e) => {
    console.error(e && e.stack ? e.stack : e);
    if (e && e.payload) console.error(JSON.stringify(e.payload));
    process.exit(1);
  });
} else {
  const { test, before, after } = require('node:test');
  const assert = require('node:assert');
  const { Processes, startPebble, runClientScript } = require('../pebble.cjs');

  let dir; // temp dir: Pebble's files and logs
  let jcoDir; // jco's output
  let processes;
  let ca;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certsmith-jco-e2e-'));
    processes = new Processes(dir);
    jcoDir = path.join(dir, 'jco');
    const { files, ms } = await transpileComponent(jcoDir); // tests/node/jco.cjs
    console.log(`jco transpiled the component into ${files} files in ${ms} ms`);
    ca = await startPebble(processes, dir);
  });

  after(async () => {
    if (processes) await processes.stopAll();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the client half in a child process that trusts Pebble's TLS root; at most `ms`. */
  const runClient = (ms = 90_000) => runClientScript(processes, dir, ca, __filename,
    { [CHILD_ENV]: JSON.stringify({ ...ca, jcoDir }) }, ms);

  test('the component, transpiled by jco, gets a certificate from Pebble over HTTP-01', { timeout: 120_000 }, async () => {
    const started = Date.now();
    const report = await runClient();

    // A misspelled challenge type is an error value naming it (a ComponentError carrying the
    // engine-error), and the instance still works afterwards (everything below ran in it).
    const { misspelled } = report;
    assert.strictEqual(misspelled.thrown, 'ComponentError', JSON.stringify(misspelled));
    assert.strictEqual(misspelled.isError, true);
    assert.strictEqual(misspelled.message, '[object Object] (see error.payload)');
    const { payload } = misspelled;
    assert.strictEqual(payload.kind.tag, 'invalid-input');
    assert.strictEqual(payload.kind.val.what, 'challenge type "http01"');
    assert.match(payload.kind.val.expected, /http-01/);
    assert.strictEqual(payload.fault, 'caller');
    assert.match(payload.message, /"http01"/);
    assert.strictEqual(payload.problem, undefined); // option none: the key is absent
    // op-ids are u32: plain numbers, not BigInts.
    assert.deepStrictEqual(report.opIdTypes, ['number', 'number']);
    assert.notStrictEqual(report.opIds[0], report.opIds[1]);

    assert.ok(report.account && report.account.outcome, `account failed: ${JSON.stringify(report.account)}`);
    const { outcome: account } = report.account;
    assert.strictEqual(account.tag, 'account');
    assert.deepStrictEqual(account.val, { url: report.accountUrl, status: 'valid',
      contact: ['mailto:jco-e2e@example.test'], created: true });

    assert.ok(report.order && report.order.outcome, `order failed: ${JSON.stringify(report.order)}`);
    const { outcome: issued } = report.order;
    assert.strictEqual(issued.tag, 'certificate');
    const cert = issued.val; // record fields in camelCase
    assert.ok(Array.isArray(cert.alternateUrls));
    assert.ok(cert.certificateUrl.startsWith(ca.directory.replace('/dir', '')));

    // One http-01 challenge: deployed, fetched by Pebble's VA from our server, cleaned up.
    assert.strictEqual(report.deployed.length, 1);
    const [task] = report.deployed;
    assert.deepStrictEqual(task.identifier, { kind: 'dns', value: NAME });
    assert.deepStrictEqual(task.solution, { tag: 'http01', val: `/.well-known/acme-challenge/${task.token}` });
    assert.ok(task.keyAuthorization.startsWith(`${task.token}.`));
    assert.ok(report.hits.includes(task.solution.val), `Pebble fetched ${JSON.stringify(report.hits)}`);
    assert.deepStrictEqual(report.cleaned, [task.token]);
    assert.ok(report.saved.length >= 1 && report.saved[0].type === 'string');
    assert.strictEqual(report.saved[0].snapshot.orderUrl, cert.orderUrl);

    // The engine sets User-Agent, the host's product token first.
    assert.strictEqual(report.userAgents.length, 1, JSON.stringify(report.userAgents));
    assert.match(report.userAgents[0], new RegExp(`^${USER_AGENT} certsmith-core/`));
    assert.strictEqual(report.requestsSent.type, 'bigint');
    assert.ok(report.requestsSent.value >= 8, `${report.requestsSent.value} requests`);

    // The chain: leaf for NAME, certified by Pebble's intermediate, which its root certifies;
    // the key handed over is the leaf's.
    const blocks = cert.chainPem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) || [];
    assert.ok(blocks.length >= 2, 'leaf and intermediate');
    const leaf = new crypto.X509Certificate(blocks[0]);
    const intermediate = new crypto.X509Certificate(report.intermediates);
    const root = new crypto.X509Certificate(report.roots);
    assert.ok(leaf.subjectAltName.split(', ').includes(`DNS:${NAME}`), leaf.subjectAltName);
    assert.ok(leaf.checkIssued(intermediate) && leaf.verify(intermediate.publicKey), 'leaf issued by the intermediate');
    assert.ok(intermediate.checkIssued(root) && intermediate.verify(root.publicKey), 'intermediate issued by the root');
    assert.strictEqual(new crypto.X509Certificate(blocks[1]).fingerprint256, intermediate.fingerprint256);
    assert.strictEqual(typeof cert.privateKeyPem, 'string'); // option<string>, some
    assert.ok(leaf.checkPrivateKey(crypto.createPrivateKey(cert.privateKeyPem)), 'key matches');
    console.log(`component via jco: issued ${NAME} in ${Date.now() - started} ms with ${report.requestsSent.value} requests`);
  });

  test("jco's mapping of the WIT, as README's table says", async () => {
    const { acme, helpers } = await loadEngine(jcoDir);
    // Enums are strings; a string that is no case throws a TypeError in jco's lowering (before
    // the component is entered) and the instance goes on working.
    assert.throws(() => helpers.generateKey('P256'), (e) => e instanceof TypeError && /"P256"/.test(e.message));
    const key = helpers.generateKey('p384');
    assert.match(key, /^-----BEGIN PRIVATE KEY-----/);
    // A result's err is thrown: a ComponentError whose `payload` is the error record.
    assert.throws(() => helpers.jwkThumbprint('not a key'),
      (e) => e.constructor.name === 'ComponentError' && e.payload.fault === 'caller' && typeof e.payload.message === 'string');
    // Resources are classes: `create` (a static func returning own<client>) makes one; there
    // is no constructor.
    assert.throws(() => new acme.Client(), /does not define a constructor/);
    assert.ok(acme.Client.create({ directoryUrl: 'https://127.0.0.1:9/dir' }, key) instanceof acme.Client); // options left out
    // No server retries: a response without headers is retried like a 5xx (1 + 2 + 4 s) first.
    const retry = { maxBadNonceRetries: 20, maxServerRetries: 0, pollInitialMs: 50n, pollMaxMs: 3_000n,
      pollTimeoutMs: 600_000n, maxInlineWaitMs: 60_000n };
    const client = acme.Client.create({ directoryUrl: 'https://127.0.0.1:9/dir', retry, userAgent: undefined }, key);
    assert.strictEqual(client.poll(BigInt(Date.now())), undefined); // option none: undefined
    assert.strictEqual(client.nextWakeup(), undefined);
    assert.strictEqual(client.accountUrl(), undefined);
    assert.strictEqual(client.requestsSent(), 0n); // u64: BigInt
    assert.throws(() => client.start({ tag: 'order', val: { identifiers: [{ kind: 'DNS', value: NAME }],
      challengeTypes: ['http-01'], certificateKey: { tag: 'generate', val: 'p256' } } }), TypeError);
    const op = client.start({ tag: 'new-account',
      val: { contact: [], termsOfServiceAgreed: true, onlyReturnExisting: false, externalAccount: undefined } });
    assert.strictEqual(typeof op, 'number');
    // A number where a u64 is expected is converted (BigInt(x)); out they are BigInts.
    const out = client.poll(Date.now());
    assert.strictEqual(out.op, op);
    assert.strictEqual(out.action.tag, 'send'); // variant: {tag, val}
    assert.strictEqual(out.action.val.method, 'get'); // enum: a string
    assert.ok(out.action.val.body instanceof Uint8Array); // list<u8>
    assert.ok(Array.isArray(out.action.val.headers) && Array.isArray(out.action.val.headers[0]));
    // A fetch Headers object where list<tuple<string, string>> is expected: jco lowers it to
    // an empty list without a word. The directory needs no header; the nonce does, and the
    // engine then says what is wrong.
    const directory = new TextEncoder().encode(JSON.stringify({ newNonce: 'https://127.0.0.1:9/nonce',
      newAccount: 'https://127.0.0.1:9/acct', newOrder: 'https://127.0.0.1:9/order',
      revokeCert: 'https://127.0.0.1:9/revoke', keyChange: 'https://127.0.0.1:9/key' }));
    const headers = new Headers({ 'content-type': 'application/json', 'replay-nonce': 'abc' });
    client.handle(BigInt(Date.now()), op, { tag: 'response', val: { status: 200, headers, body: directory } });
    const nonce = client.poll(BigInt(Date.now()));
    assert.strictEqual(nonce.action.val.method, 'head');
    client.handle(BigInt(Date.now()), op, { tag: 'response', val: { status: 200, headers, body: new Uint8Array() } });
    // No header at all is the host loop's bug: the operation fails at once, the caller's fault.
    const failed = client.poll(BigInt(Date.now()));
    assert.strictEqual(failed.action.tag, 'failed');
    assert.strictEqual(failed.action.val.kind.tag, 'invalid-input');
    assert.strictEqual(failed.action.val.fault, 'caller');
    assert.match(failed.action.val.message, /it has none at all/);
    // `handle` for an op that is over: a result err, thrown.
    assert.throws(() => client.handle(BigInt(Date.now()), op, { tag: 'transport-error', val: 'x' }),
      (e) => e.payload.kind.tag === 'invalid-state' && e.payload.fault === 'caller');
    // Dropping the resource; a dropped handle cannot be used.
    client[Symbol.dispose]();
    assert.throws(() => client.poll(BigInt(Date.now())));
  });
}
