// A host loop for the engine's JS build: carries out the actions of a `Client` with `fetch`
// and the caller's challenge solvers until the given operations finish. Uses nothing but
// `fetch`, `setTimeout` and `Date.now`, so it runs unchanged under Node, Deno and Workers.
'use strict';

/**
 * Drives `client` until every operation in `ops` is done or failed.
 *
 * @param client   an engine `Client` (target/wasm/js/certsmith_core.js)
 * @param ops      the op ids to wait for (other operations on the client are driven too)
 * @param options  `fetch` (default: the global one), `deploy(challenge)` and
 *                 `cleanup(challenge)` (may be async; a throwing `deploy` fails the order
 *                 through `challengeFailed`), `save(op, snapshotJson)`, `now()` (ms, default
 *                 `Date.now`), `requestTimeoutMs` (per request, default 30 s), `signal`
 *                 (an AbortSignal that stops the loop).
 * @returns        a Map from op id to `{outcome}` (done) or `{error}` (failed)
 */
async function drive(client, ops, options = {}) {
  const {
    fetch = globalThis.fetch,
    deploy = async () => { throw new Error('no deploy function given'); },
    cleanup = async () => {},
    save = async () => {},
    now = Date.now,
    requestTimeoutMs = 30_000,
    signal,
  } = options;
  const waiting = new Set(ops);
  const results = new Map();
  const busy = new Set(); // promises of requests and deployments in flight
  let broken; // the first exception of a tracked task (an engine call that threw)

  const track = (promise) => {
    const p = promise
      .catch((e) => { broken = broken || e; })
      .finally(() => busy.delete(p));
    busy.add(p);
  };

  const send = async (op, request) => {
    let response;
    try {
      const res = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.method === 'POST' ? request.body : undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(requestTimeoutMs),
      });
      response = {
        status: res.status,
        headers: res.headers,
        body: new Uint8Array(await res.arrayBuffer()),
      };
    } catch (e) {
      const reason = e && e.cause ? `${e.message}: ${e.cause.message || e.cause}` : String(e);
      client.handle(now(), op, { kind: 'transport-error', reason });
      return;
    }
    client.handle(now(), op, { kind: 'response', ...response });
  };

  const solve = async (op, challenge) => {
    try {
      await deploy(challenge);
    } catch (e) {
      client.handle(now(), op,
        { kind: 'challenge-failed', token: challenge.token, reason: String(e && e.message || e) });
      return;
    }
    client.handle(now(), op, { kind: 'challenge-ready', token: challenge.token });
  };

  while (waiting.size > 0) {
    if (broken) throw broken;
    if (signal && signal.aborted) throw signal.reason || new Error('aborted');
    let action;
    while ((action = client.poll(now())) !== undefined) {
      switch (action.kind) {
        case 'send': track(send(action.op, action.request)); break;
        case 'deploy': track(solve(action.op, action.challenge)); break;
        case 'cleanup': {
          const { challenge } = action;
          track(Promise.resolve().then(() => cleanup(challenge)).catch(() => {}));
          break;
        }
        case 'save': await save(action.op, action.snapshot); break;
        case 'done': results.set(action.op, { outcome: action.outcome }); waiting.delete(action.op); break;
        case 'failed': results.set(action.op, { error: action.error }); waiting.delete(action.op); break;
        default: throw new Error(`unknown engine action ${action.kind}`);
      }
    }
    if (waiting.size === 0 || broken) continue;
    const wakeup = client.nextWakeup();
    if (busy.size === 0 && wakeup === undefined) {
      throw new Error(`the engine waits for nothing the driver can give (ops ${[...waiting].join(', ')})`);
    }
    // Wait for a request or deployment to finish, or the engine's next timer.
    const waits = [...busy];
    let timer;
    if (wakeup !== undefined) {
      waits.push(new Promise((resolve) => { timer = setTimeout(resolve, Math.max(0, wakeup - now())); }));
    }
    if (signal) {
      waits.push(new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })));
    }
    await Promise.race(waits);
    clearTimeout(timer);
  }
  await Promise.allSettled([...busy]); // cleanups still running
  if (broken) throw broken;
  return results;
}

module.exports = { drive };
