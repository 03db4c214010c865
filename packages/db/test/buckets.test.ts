import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareBytes } from '@medledger/types';
import {
  Bucket,
  blockKey,
  keySuccessor,
  lengthPrefixed,
  prefixEnd,
  prefixRange,
  readUint64BE,
  uint32BE,
  uint64BE,
} from '../src/index.js';

test('uint64BE round-trips and sorts numerically', () => {
  const values = [0, 1, 255, 256, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER];
  for (const v of values) assert.equal(readUint64BE(uint64BE(v)), v);
  const sorted = [...values]
    .reverse()
    .map(uint64BE)
    .sort(compareBytes)
    .map((b) => readUint64BE(b));
  assert.deepEqual(sorted, values);
  assert.throws(() => uint64BE(-1), { code: 'DB_INVALID_ARGUMENT' });
  assert.throws(() => uint64BE(1.5), { code: 'DB_INVALID_ARGUMENT' });
  assert.throws(() => readUint64BE(new Uint8Array(7)), { code: 'DB_CORRUPT' });
});

test('uint32BE round-trips', () => {
  for (const v of [0, 9, 70_000, 2 ** 32 - 1]) assert.equal(new DataView(uint32BE(v).buffer).getUint32(0), v);
  assert.throws(() => uint32BE(2 ** 32), { code: 'DB_INVALID_ARGUMENT' });
});

test('block keys sort by height', () => {
  const keys = [10, 2, 300, 1, 65_536].map(blockKey).sort(compareBytes);
  assert.deepEqual(
    keys.map((k) => readUint64BE(k, 1)),
    [1, 2, 10, 300, 65_536],
  );
  assert.equal(blockKey(1)[0], Bucket.Block);
});

test('prefixEnd bounds exactly the keys under a prefix', () => {
  assert.deepEqual(prefixEnd(new Uint8Array([1, 2])), new Uint8Array([1, 3]));
  assert.deepEqual(prefixEnd(new Uint8Array([1, 0xff])), new Uint8Array([2]));
  assert.throws(() => prefixEnd(new Uint8Array([0xff, 0xff])), { code: 'DB_INVALID_ARGUMENT' });
  const { gte, lt } = prefixRange(new Uint8Array([5, 0xff]));
  assert.ok(compareBytes(new Uint8Array([5, 0xff, 0xff, 0xff]), lt) < 0);
  assert.ok(compareBytes(new Uint8Array([5, 0xff]), gte) >= 0);
  assert.ok(compareBytes(new Uint8Array([6]), lt) >= 0);
});

test('keySuccessor is the next key among longer keys', () => {
  const k = new Uint8Array([3, 4]);
  assert.ok(compareBytes(keySuccessor(k), k) > 0);
  assert.ok(compareBytes(keySuccessor(k), new Uint8Array([3, 4, 0, 0])) <= 0);
  assert.ok(compareBytes(keySuccessor(k), new Uint8Array([3, 5])) < 0);
});

test('lengthPrefixed keeps composite keys unambiguous', () => {
  assert.deepEqual(lengthPrefixed('ab'), new Uint8Array([2, 97, 98]));
  assert.throws(() => lengthPrefixed('x'.repeat(256)), { code: 'DB_INVALID_ARGUMENT' });
});
