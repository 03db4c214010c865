import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase, TEST_DATABASE_OPTIONS, type WriteBatch } from '../src/index.js';
import { bytes, openTempDatabase, tempDir } from './helpers.js';

test('point reads see only written batches', async () => {
  const { db, cleanup } = await openTempDatabase();
  try {
    const batch = db.createBatch();
    batch.put(bytes(1, 1), bytes(10));
    batch.put(bytes(1, 2), bytes(20));
    batch.del(bytes(1, 2));
    assert.equal(batch.length, 3);
    assert.equal(db.getSync(bytes(1, 1)), undefined);
    await db.write(batch, { sync: true });
    const value = db.getSync(bytes(1, 1));
    assert.deepEqual(value, bytes(10));
    assert.equal(value?.constructor, Uint8Array, 'plain Uint8Array, not Buffer');
    assert.equal(db.getSync(bytes(1, 2)), undefined);
    assert.deepEqual(await db.get(bytes(1, 1)), bytes(10));
    assert.equal(await db.get(bytes(9)), undefined);
  } finally {
    await cleanup();
  }
});

test('range reads [gte, lt) in order, reversed, limited, and stops early', async () => {
  const { db, cleanup } = await openTempDatabase();
  try {
    const batch = db.createBatch();
    for (let i = 0; i < 20; i++) batch.put(bytes(2, i), bytes(i));
    batch.put(bytes(3, 0), bytes(99));
    await db.write(batch);
    const all: number[] = [];
    for await (const [key, value] of db.range({ gte: bytes(2), lt: bytes(3) })) {
      assert.equal(key[1], value[0]);
      all.push(value[0]!);
    }
    assert.deepEqual(
      all,
      Array.from({ length: 20 }, (_, i) => i),
    );
    const reversed: number[] = [];
    for await (const [, v] of db.range({ gte: bytes(2, 5), lt: bytes(2, 9), reverse: true })) reversed.push(v[0]!);
    assert.deepEqual(reversed, [8, 7, 6, 5]);
    const limited: number[] = [];
    for await (const [, v] of db.range({ gte: bytes(2), lt: bytes(3), limit: 3 })) limited.push(v[0]!);
    assert.deepEqual(limited, [0, 1, 2]);
    // Breaking out must close the iterator, or close() below would hang.
    for await (const [key] of db.range({ gte: bytes(2), lt: bytes(3) })) if (key[1] === 4) break;
  } finally {
    await cleanup();
  }
});

test('write hooks run after the write, once; a batch cannot be reused or written elsewhere', async () => {
  const a = await openTempDatabase();
  const b = await openTempDatabase();
  try {
    const batch = a.db.createBatch();
    batch.put(bytes(1), bytes(1));
    let calls = 0;
    batch.onWritten(() => {
      calls++;
      assert.deepEqual(a.db.getSync(bytes(1)), bytes(1));
    });
    await assert.rejects(b.db.write(batch), { code: 'DB_FOREIGN_BATCH' });
    assert.equal(calls, 0);
    await a.db.write(batch);
    assert.equal(calls, 1);
    await assert.rejects(a.db.write(batch), { code: 'DB_BATCH_WRITTEN' });
    assert.throws(() => batch.put(bytes(2), bytes(2)), { code: 'DB_BATCH_WRITTEN' });
    const foreign: WriteBatch = { put() {}, del() {}, length: 0, discard() {} };
    await assert.rejects(a.db.write(foreign), { code: 'DB_FOREIGN_BATCH' });
  } finally {
    await a.cleanup();
    await b.cleanup();
  }
});

test('a discarded batch writes nothing and takes no more ops; an open one does not keep the database from closing', async () => {
  const dir = tempDir();
  try {
    const db = createDatabase({ ...TEST_DATABASE_OPTIONS, path: dir.path });
    await db.open();
    const dropped = db.createBatch();
    dropped.put(bytes(1), bytes(1));
    dropped.discard();
    dropped.discard(); // twice is harmless
    assert.throws(() => dropped.put(bytes(2), bytes(2)), { code: 'DB_BATCH_WRITTEN' });
    await assert.rejects(db.write(dropped), { code: 'DB_BATCH_WRITTEN' });
    assert.equal(db.getSync(bytes(1)), undefined);

    const left = db.createBatch();
    left.put(bytes(3), bytes(3));
    await db.close();
    assert.throws(() => left.put(bytes(4), bytes(4)), { code: 'DB_WRITE_FAILED' });
    const again = createDatabase({ ...TEST_DATABASE_OPTIONS, path: dir.path });
    await again.open();
    assert.equal(again.getSync(bytes(3)), undefined, 'ops of a batch never written are not on disk');
    await again.close();
  } finally {
    dir.remove();
  }
});

test('a closed database refuses reads with DB_NOT_OPEN; data survives reopening', async () => {
  const dir = tempDir();
  try {
    const db = createDatabase({ ...TEST_DATABASE_OPTIONS, path: dir.path });
    assert.throws(() => db.getSync(bytes(1)), { code: 'DB_NOT_OPEN' });
    await db.open();
    const batch = db.createBatch();
    batch.put(bytes(7), bytes(7, 7));
    await db.write(batch, { sync: true });
    await db.close();
    assert.throws(() => db.getSync(bytes(7)), { code: 'DB_NOT_OPEN' });
    const again = createDatabase({ ...TEST_DATABASE_OPTIONS, path: dir.path });
    await again.open();
    assert.deepEqual(again.getSync(bytes(7)), bytes(7, 7));
    await again.close();
  } finally {
    dir.remove();
  }
});

test('a second open of the same directory fails with DB_LOCKED', async () => {
  const { path, cleanup } = await openTempDatabase();
  try {
    const second = createDatabase({ ...TEST_DATABASE_OPTIONS, path });
    await assert.rejects(second.open(), { code: 'DB_LOCKED' });
  } finally {
    await cleanup();
  }
});

test('options are validated', () => {
  assert.throws(() => createDatabase({ path: '' }), { code: 'DB_INVALID_ARGUMENT' });
  assert.throws(() => createDatabase({ path: '/tmp/x', cacheSizeBytes: -1 }), { code: 'DB_INVALID_ARGUMENT' });
});
