import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bucket } from '@medledger/db';
import { keyId, StateOverlay } from '../src/overlay.js';
import { CommittedReadCache } from '../src/read-cache.js';

const k = (...b: number[]) => new Uint8Array(b);
const v = (n: number) => new Uint8Array([n]);

/** A committed store underneath: key 1 holds 10, key 2 holds 20. */
const base = new Map([
  ['1', v(10)],
  ['2', v(20)],
]);
const overlay = () => new StateOverlay({ getSync: (key) => base.get(String(key[0])) });

test('a rolled-back tx leaves the block as it was, even for keys it wrote twice or deleted', () => {
  const o = overlay();
  o.put(k(3), v(30)); // outside a tx: the nonce write
  o.beginTx();
  o.put(k(1), v(11));
  o.commitTx();

  o.beginTx();
  o.put(k(1), v(12));
  o.put(k(1), v(13));
  o.del(k(2));
  o.put(k(4), v(40));
  assert.deepEqual(o.get(k(1)), v(13));
  assert.equal(o.get(k(2)), undefined);
  assert.equal(o.has(k(4)), true);
  o.rollbackTx();

  assert.deepEqual(o.get(k(1)), v(11));
  assert.deepEqual(o.get(k(2)), v(20));
  assert.deepEqual(o.get(k(3)), v(30));
  assert.equal(o.has(k(4)), false);
  assert.deepEqual(
    o.writes().map((w) => [[...w.key], w.value && [...w.value]]),
    [
      [[1], [11]],
      [[3], [30]],
    ],
  );
});

test('writes are sorted by key bytes whatever the order they came in, the last value of a key wins', () => {
  const o = overlay();
  o.beginTx();
  for (const key of [k(2, 0), k(0xff), k(1, 5), k(1), k(0x80, 1)]) o.put(key, v(key[0]!));
  o.del(k(1));
  o.commitTx();
  assert.deepEqual(
    o.writes().map((w) => [...w.key]),
    [[1], [1, 5], [2, 0], [0x80, 1], [0xff]],
  );
  assert.equal(o.writes()[0]!.value, null);
  assert.equal(o.get(k(1)), undefined);
});

test('index writes stay in write order outside the sorted writes, and a rolled-back tx drops its own', () => {
  const o = overlay();
  const index = (...b: number[]) => k(Bucket.Index, ...b);
  o.beginTx();
  o.put(index(9), v(1));
  o.put(k(Bucket.State, 1), v(2));
  o.put(index(3), v(3));
  o.commitTx();
  o.beginTx();
  o.put(index(5), v(4));
  o.del(index(9));
  assert.equal(o.get(index(9)), undefined, 'a tx reads its own index delete');
  assert.deepEqual(o.get(index(5)), v(4));
  o.rollbackTx();

  assert.deepEqual(o.get(index(9)), v(1));
  assert.equal(o.has(index(5)), false);
  assert.deepEqual(
    o.indexWrites().map((w) => [[...w.key], w.value && [...w.value]]),
    [
      [[Bucket.Index, 9], [1]],
      [[Bucket.Index, 3], [3]],
    ],
  );
  assert.deepEqual(
    o.writes().map((w) => [...w.key]),
    [[Bucket.State, 1]],
  );
});

test('the read cache keeps State entries only, and a commit updates the ones it holds', () => {
  const stateKey = k(Bucket.State, 1);
  const indexKey = k(Bucket.Index, 1);
  const db = new Map([
    [String(stateKey), v(10)],
    [String(indexKey), v(20)],
  ]);
  let reads = 0;
  const cache = new CommittedReadCache({
    getSync: (key: Uint8Array) => {
      reads++;
      return db.get(String(key));
    },
  });
  cache.getSync(stateKey);
  cache.getSync(stateKey);
  assert.equal(reads, 1, 'a State entry is read from the database once');
  cache.getSync(indexKey);
  cache.getSync(indexKey);
  assert.equal(reads, 3, 'an index entry is not kept');

  db.set(String(stateKey), v(11));
  cache.apply([{ id: keyId(stateKey), key: stateKey, value: v(11) }]);
  assert.deepEqual(cache.getSync(stateKey), v(11));
  assert.equal(reads, 3);
});
