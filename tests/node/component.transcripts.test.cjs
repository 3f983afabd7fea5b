// The shipped transcripts (core/tests/transcripts/*.json, format certsmith-transcript/1,
// README "Transcripts") replayed through the engine *component*
// (target/wasm/certsmith_engine.wasm), made JS by jco (tests/node/jco.cjs), with nothing but
// the WIT (wit/acme.wit): the same seed, commands, clock and answers must give the outputs
// the Rust engine recorded, byte for byte, as tools/transcripts (the Rust crate) and
// tests/node/transcripts.test.cjs (the JS package) require.
//
// A transcript holds the JS package's objects (bindings/js/src/lib.rs: ActionView, TaskView,
// OutcomeView, ErrorView, RequestView), so each WIT value is converted here:
// - commands in: `new-account` -> `new-account(new-account-request)`, `order` ->
//   `order(order-request)`; an identifier string is `{kind: 'ip'}` if it is an IP address
//   (as the JS package reads it), else `{kind: 'dns'}`; `keyType` (default p256) is
//   `certificate-key.generate`; an order's other fields are the engine's plain options
//   (`notBefore`, `profile`, …), which the JS package names as jco names the WIT record's
//   fields: copied by name, times as BigInts. A new-account field this file does not convert
//   throws; an order field that is no option is refused by the JS package's replay of the
//   same transcript (tests/node/transcripts.test.cjs).
// - outputs out: `{op, action: {tag, val}}` -> `{op, kind: tag, …}`: a request's method
//   upper-cased (the WIT enum is lower case), its headers as they are, its body in base64;
//   a challenge-task's `solution` flattened beside `type` (`http01(path)` -> `type:
//   'http-01', path`; `dns01({name, value})` -> `type: 'dns-01', recordName, recordValue`;
//   `tls-alpn01` -> `type: 'tls-alpn-01', certificatePem, privateKeyPem`); identifiers
//   `{kind, value}` -> `{type, value}`; a problem's `kind` -> `type`; u64 times (BigInts)
//   -> numbers; an option's none and an empty `subproblems` list leave the key out, as
//   serde's skip_serializing_if does.
// - inputs in: `{kind: 'response', status, headers, body: base64}` -> `response({status,
//   headers, body: Uint8Array})`; `transport-error` -> `transport-error(reason)`;
//   `challenge-ready` -> `challenge-ready(token)`; `challenge-failed` -> `challenge-failed({
//   token, reason})`.
//
// Every field of the JS package's outputs is compared, requests (method, url, headers, body),
// challenges, snapshots, outcomes and errors whole: the error view's `kind` is the WIT
// `error-kind`'s tag, its `retryAfter` the `acme` case's `retry-after`, and `fault`,
// `message`, `problem` and `identifier` the engine-error's own. Left out, because a
// transcript does not hold them (the error view has no field for them), are the WIT error's
// other per-kind facts: `acme`'s url and status, `authorization-failed`'s challenge type,
// `no-compatible-challenge`'s offered/accepted, `invalid-response`/`invalid-input`'s
// what/expected, `transport`'s url/reason, and the strings of `order-failed`, `timeout`,
// `invalid-state`, `crypto` and `challenge-deploy-failed` (most of them are in `message`,
// which is compared). One mapping is not one-to-one the other way round: an engine error of a
// kind newer than the WIT reaches the component as `invalid-state`, so its tag would differ
// from the JS package's `kind` and the replay would fail (loudly, not silently).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { transpileComponent, loadEngine } = require('./jco.cjs');

const ROOT = path.resolve(__dirname, '..', '..');
const DIR = path.join(ROOT, 'core/tests/transcripts');
const MAX_STEPS = 10_000; // a transcript longer than this is refused (every loop is bounded)

/** Throws if `object` has a key outside `known` (a command field this file cannot convert). */
function onlyKeys(object, known, what) {
  const unknown = Object.keys(object).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`${what}: fields ${unknown.join(', ')} are not converted to the WIT here`);
}

/** A JS-package identifier (a string, or `{type, value}`) as the WIT's `identifier`. */
function identifierIn(id) {
  if (typeof id === 'string') return { kind: net.isIP(id) ? 'ip' : 'dns', value: id };
  return { kind: id.type, value: id.value };
}

/** A transcript command (the JS package's command object) as the WIT `command` variant. */
function commandIn(command) {
  switch (command.kind) {
    case 'new-account':
      onlyKeys(command, ['kind', 'contact', 'termsOfServiceAgreed', 'onlyReturnExisting'], 'new-account');
      return {
        tag: 'new-account',
        val: {
          contact: command.contact ?? [],
          termsOfServiceAgreed: command.termsOfServiceAgreed ?? false,
          onlyReturnExisting: command.onlyReturnExisting ?? false,
          externalAccount: undefined,
        },
      };
    case 'order': {
      const { kind, identifiers, challengeTypes, keyType, ...options } = command;
      if (!Array.isArray(challengeTypes)) throw new Error('order: no challengeTypes (the WIT has no default)');
      const val = {
        identifiers: identifiers.map(identifierIn),
        challengeTypes,
        certificateKey: { tag: 'generate', val: (keyType ?? 'p256').toLowerCase() },
      };
      // The rest are the engine's plain options (core's `order_request_options!`), each named
      // as jco names the WIT record's field; a time (a number of ms) goes in as the u64's BigInt.
      for (const [key, value] of Object.entries(options)) {
        val[key] = typeof value === 'number' ? BigInt(value) : value ?? undefined;
      }
      return { tag: 'order', val };
    }
    default:
      throw new Error(`command kind ${JSON.stringify(command.kind)} is not converted to the WIT here`);
  }
}

/** A transcript input as the WIT `input` variant. */
function inputIn(input) {
  switch (input.kind) {
    case 'response':
      return {
        tag: 'response',
        val: {
          status: input.status,
          headers: input.headers,
          body: new Uint8Array(Buffer.from(input.body, 'base64')),
        },
      };
    case 'transport-error': return { tag: 'transport-error', val: input.reason };
    case 'challenge-ready': return { tag: 'challenge-ready', val: input.token };
    case 'challenge-failed': return { tag: 'challenge-failed', val: { token: input.token, reason: input.reason } };
    default: throw new Error(`input kind ${JSON.stringify(input.kind)} unknown`);
  }
}

/** Copies `value` into `object[key]` unless it is an option's none (undefined). */
function setSome(object, key, value) {
  if (value !== undefined) object[key] = value;
  return object;
}

/** A u64 (a BigInt in jco) as the number the JS package gives. */
function u64(value) {
  assert.strictEqual(typeof value, 'bigint', `a u64 should be a BigInt, got ${typeof value}`);
  assert.ok(value <= BigInt(Number.MAX_SAFE_INTEGER), `${value} does not fit a JS number`);
  return Number(value);
}

/** The WIT `identifier` as the JS package's `{type, value}`. */
const identifierOut = (id) => ({ type: id.kind, value: id.value });

/** The WIT `problem` as the JS package's (serde's view of core's `Problem`). */
function problemOut(p) {
  const view = { type: p.kind };
  setSome(view, 'detail', p.detail);
  setSome(view, 'status', p.status);
  if (p.subproblems.length > 0) {
    view.subproblems = p.subproblems.map((s) => {
      const sub = { type: s.kind };
      setSome(sub, 'detail', s.detail);
      if (s.identifier !== undefined) sub.identifier = identifierOut(s.identifier);
      return sub;
    });
  }
  return view;
}

/** The WIT `engine-error` as the JS package's ErrorView. */
function errorOut(e) {
  const view = { kind: e.kind.tag, fault: e.fault, message: e.message };
  if (e.problem !== undefined) view.problem = problemOut(e.problem);
  if (e.kind.tag === 'acme' && e.kind.val.retryAfter !== undefined) view.retryAfter = u64(e.kind.val.retryAfter);
  if (e.identifier !== undefined) view.identifier = identifierOut(e.identifier);
  return view;
}

/** The WIT `challenge-task` as the JS package's TaskView (the solution flattened). */
function taskOut(t) {
  const view = { identifier: identifierOut(t.identifier), token: t.token, keyAuthorization: t.keyAuthorization };
  const { tag, val } = t.solution;
  switch (tag) {
    case 'http01': return { type: 'http-01', ...view, path: val };
    case 'dns01': return { type: 'dns-01', ...view, recordName: val.name, recordValue: val.value };
    case 'tls-alpn01':
      return { type: 'tls-alpn-01', ...view, certificatePem: val.certificatePem, privateKeyPem: val.privateKeyPem };
    default: throw new Error(`solution ${tag} unknown`);
  }
}

/** The WIT `outcome` as the JS package's OutcomeView. */
function outcomeOut(o) {
  const { tag, val } = o;
  switch (tag) {
    case 'account':
      return { kind: 'account', url: val.url, status: val.status, contact: val.contact, created: val.created };
    case 'certificate':
      return setSome({ kind: 'certificate', chainPem: val.chainPem, orderUrl: val.orderUrl,
        certificateUrl: val.certificateUrl, alternateUrls: val.alternateUrls }, 'privateKeyPem', val.privateKeyPem);
    case 'revoked':
    case 'key-changed':
      return { kind: tag };
    case 'renewal-info':
      return setSome({ kind: 'renewal-info', windowStart: u64(val.windowStart), windowEnd: u64(val.windowEnd),
        renewAt: u64(val.renewAt), checkAgainAt: u64(val.checkAgainAt) }, 'explanationUrl', val.explanationUrl);
    case 'order-abandoned':
      return { kind: 'order-abandoned', authorizationsDeactivated: val };
    default: throw new Error(`outcome ${tag} unknown`);
  }
}

/** The WIT `output` as a transcript holds the JS package's output (a body in base64). */
function outputOut(output) {
  if (output === undefined) return null; // option none
  const { op, action: { tag, val } } = output;
  assert.strictEqual(typeof op, 'number', 'an op-id is a u32: a number');
  switch (tag) {
    case 'send':
      assert.ok(val.body instanceof Uint8Array, 'a request body is a list<u8>: a Uint8Array');
      return { op, kind: 'send', request: { method: val.method.toUpperCase(), url: val.url,
        headers: val.headers.map(([name, value]) => [name, value]), body: Buffer.from(val.body).toString('base64') } };
    case 'deploy': return { op, kind: 'deploy', challenge: taskOut(val) };
    case 'cleanup': return { op, kind: 'cleanup', challenge: taskOut(val) };
    case 'save': return { op, kind: 'save', snapshot: val };
    case 'done': return { op, kind: 'done', outcome: outcomeOut(val) };
    case 'failed': return { op, kind: 'failed', error: errorOut(val) };
    default: throw new Error(`action ${tag} unknown`);
  }
}

/** Replays `transcript` through the component's `acme` interface; throws at the first differing step. */
function replay(acme, transcript) {
  assert.strictEqual(transcript.format, 'certsmith-transcript/1');
  assert.ok(transcript.steps.length <= MAX_STEPS, `${transcript.steps.length} steps`);
  const { config } = transcript;
  assert.match(config.seedHex, /^[0-9a-f]{64}$/i);
  const client = acme.Client.create({
    directoryUrl: config.directoryUrl,
    accountUrl: undefined,
    retry: undefined,
    userAgent: config.userAgent ?? undefined,
    seed: new Uint8Array(Buffer.from(config.seedHex, 'hex')),
  }, config.accountKeyPem);
  try {
    transcript.commands.forEach((command, i) => {
      // Op ids are 1, 2, … in the order the commands are started.
      assert.strictEqual(client.start(commandIn(command)), i + 1, `command ${i}`);
    });
    transcript.steps.forEach((step, i) => {
      const now = BigInt(step.now);
      const output = client.poll(now);
      assert.deepStrictEqual(outputOut(output), step.output, `step ${i} (poll at ${step.now})`);
      if (step.input) client.handle(now, output.op, inputIn(step.input));
    });
  } finally {
    client[Symbol.dispose]();
  }
}

const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
let dir;
let acme;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'certsmith-jco-transcripts-'));
  const { files: written, ms } = await transpileComponent(path.join(dir, 'jco'));
  console.log(`jco transpiled the component into ${written} files in ${ms} ms`);
  ({ acme } = await loadEngine(path.join(dir, 'jco')));
});

after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the transcripts are there', () => assert.ok(files.length >= 7, files.join(', ')));

for (const file of files) {
  test(`transcript ${file} replays byte for byte in the component (jco)`, () => {
    replay(acme, JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
  });
}

test('a transcript changed in one recorded byte is refused by the component, naming the step', () => {
  const load = (file) => JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
  const find = (transcript, kind) => transcript.steps.findIndex((s) => s.output && s.output.kind === kind
    && (kind !== 'send' || s.output.request.body !== ''));
  const changes = [
    // A byte of a request body (the JWS of the first POST).
    [files[0], 'send', (out) => {
      const body = Buffer.from(out.request.body, 'base64');
      body[body.length - 3] ^= 1;
      out.request.body = body.toString('base64');
    }],
    // A byte of a snapshot.
    [files[0], 'save', (out) => { out.snapshot = out.snapshot.replace('"', "'"); }],
    // A digit of an error's retryAfter (the WIT's acme.retry-after).
    ['rate-limited.json', 'failed', (out) => { out.error.retryAfter += 1; }],
  ];
  for (const [file, kind, change] of changes) {
    const transcript = load(file);
    const step = find(transcript, kind);
    assert.ok(step >= 0, `${file} has a ${kind} step`);
    change(transcript.steps[step].output);
    assert.throws(() => replay(acme, transcript),
      (e) => e instanceof assert.AssertionError && e.message.includes(`step ${step} `),
      `a change to ${file} at step ${step} (${kind}) must be refused naming the step`);
  }
  // The instances the changed ones ran in are gone; a pristine one still replays.
  replay(acme, load(files[0]));
});
