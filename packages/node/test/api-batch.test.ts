import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCanonical } from '@medledger/types';
import { apiServerOver } from './fixtures.js';

// Only what POST /txs/batch touches; the end-to-end single-node test covers it on a real node.
function apiWith(acceptsTxs: () => boolean, submitted: Uint8Array[]) {
  const ctx = {
    ready: () => true,
    acceptsTxs,
    submitTx: (bytes: Uint8Array) => {
      submitted.push(bytes);
      return { hash: 'ab'.repeat(32) };
    },
    metrics: { apiRequestSeconds: { observe: () => undefined } },
  };
  return apiServerOver(ctx);
}

type App = ReturnType<typeof apiWith>;
const postBatch = (app: App, body: Uint8Array | string) =>
  app.inject({
    method: 'POST',
    url: '/txs/batch',
    headers: { 'content-type': 'application/cbor' },
    payload: Buffer.from(body),
  });

test('a full mempool refuses a whole batch with 503 and Retry-After before reading it', async () => {
  let full = true;
  const submitted: Uint8Array[] = [];
  const app = apiWith(() => !full, submitted);
  try {
    // Not even valid CBOR: the refusal comes first, so nothing is parsed or checked.
    const refused = await postBatch(app, 'not cbor at all');
    assert.equal(refused.statusCode, 503);
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.json().error.code, 'MEMPOOL_FULL');
    assert.equal(submitted.length, 0);

    full = false;
    const ok = await postBatch(app, encodeCanonical([new Uint8Array([1, 2, 3])]));
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { results: [{ hash: 'ab'.repeat(32), accepted: true }] });
    assert.equal(submitted.length, 1);
  } finally {
    await app.close();
  }
});

test('a batch head that announces millions of txs is refused before any is decoded', async () => {
  const submitted: Uint8Array[] = [];
  const app = apiWith(() => true, submitted);
  try {
    // An array head for 2^24 items, then a few hundred thousand 1-byte empty byte strings: the
    // count is checked against the batch limit before anything is allocated for the items.
    const body = new Uint8Array(5 + 300_000).fill(0x40);
    body.set([0x9a, 0x01, 0x00, 0x00, 0x00]);
    const res = await postBatch(app, body);
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().error.code, 'BATCH_SIZE');
    assert.match(res.json().error.message, /not 16777216/);
    assert.equal(submitted.length, 0);
  } finally {
    await app.close();
  }
});

test('a batch body that is no CBOR at all is ENCODING_INVALID; CBOR of another shape is INVALID_SHAPE', async () => {
  const submitted: Uint8Array[] = [];
  const app = apiWith(() => true, submitted);
  try {
    const post = async (body: Uint8Array) => {
      const res = await postBatch(app, body);
      return [res.statusCode, res.json().error.code];
    };
    assert.deepEqual(await post(new Uint8Array(0)), [400, 'ENCODING_INVALID']);
    assert.deepEqual(await post(new Uint8Array([0xff, 0x00])), [400, 'ENCODING_INVALID']);
    assert.deepEqual(await post(encodeCanonical([new Uint8Array([1])]).subarray(0, 2)), [400, 'ENCODING_INVALID']);
    assert.deepEqual(await post(encodeCanonical({ txs: [] })), [400, 'INVALID_SHAPE']);
    assert.deepEqual(await post(encodeCanonical([new Uint8Array([1]), 'ab'])), [400, 'INVALID_SHAPE']);
    assert.equal(submitted.length, 0);
  } finally {
    await app.close();
  }
});
