// The shipped transcripts (core/tests/transcripts/*.json, format certsmith-transcript/1,
// README "Transcripts") replayed through the JS package: the same commands, clock and
// answers must give the outputs the Rust engine recorded, byte for byte (requests with
// their JWS, challenges, snapshots, outcomes and errors). tools/transcripts replays them
// through the Rust crate; a transcript changed in one byte is refused by both.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const engine = require(path.join(ROOT, 'target/wasm/js/certsmith_core.js'));
const DIR = path.join(ROOT, 'core/tests/transcripts');

/** An output as a transcript holds it: a request's body in base64. */
function normalized(output) {
  if (output === undefined) return null;
  const copy = JSON.parse(JSON.stringify({ ...output, request: undefined }));
  if (output.kind === 'send') {
    copy.request = { ...output.request, body: Buffer.from(output.request.body).toString('base64') };
  }
  return copy;
}

/** A transcript's input as the JS package takes it. */
function input(value) {
  if (value.kind !== 'response') return value;
  return { ...value, body: new Uint8Array(Buffer.from(value.body, 'base64')) };
}

/** Replays `transcript` through the JS package; throws at the first differing step. */
function replay(transcript) {
  assert.strictEqual(transcript.format, 'certsmith-transcript/1');
  const { config } = transcript;
  const client = new engine.Client(config.directoryUrl, config.accountKeyPem, undefined, undefined,
    config.userAgent ?? undefined, new Uint8Array(Buffer.from(config.seedHex, 'hex')));
  for (const command of transcript.commands) client.start(command);
  transcript.steps.forEach((step, i) => {
    const output = client.poll(step.now);
    assert.deepStrictEqual(normalized(output), step.output, `step ${i} (poll at ${step.now})`);
    if (step.input) client.handle(step.now, output.op, input(step.input));
  });
}

const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

test('the transcripts are there', () => assert.ok(files.length >= 7, files.join(', ')));

for (const file of files) {
  test(`transcript ${file} replays byte for byte in the JS package`, () => {
    replay(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
  });
}

test('a transcript changed in one recorded byte is refused, naming the step', () => {
  const transcript = JSON.parse(fs.readFileSync(path.join(DIR, files[0]), 'utf8'));
  const step = transcript.steps.findIndex((s) => s.output && s.output.kind === 'send');
  transcript.steps[step].output.request.url = 'https://elsewhere.test/';
  assert.throws(() => replay(transcript), (e) => e.message.includes(`step ${step} `));
});
