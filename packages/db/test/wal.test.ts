import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConsensusWal, createDatabase, TEST_DATABASE_OPTIONS } from '../src/index.js';
import { bytes, openTempDatabase } from './helpers.js';

async function collect(it: AsyncIterable<Uint8Array>): Promise<number[]> {
  const out: number[] = [];
  for await (const e of it) out.push(new DataView(e.buffer, e.byteOffset).getUint16(0));
  return out;
}

const entry = (n: number) => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n);
  return b;
};

test('appends get per-height sequences and replay in order', async () => {
  const { db, cleanup } = await openTempDatabase();
  try {
    const wal = createConsensusWal({ sync: false }, { db });
    assert.equal(await wal.latestHeight(), undefined);
    // Concurrent appends: sequences must be unique and the order the calls were made.
    const seqs = await Promise.all(Array.from({ length: 300 }, (_, i) => wal.append(5, entry(i))));
    assert.deepEqual(
      seqs,
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.equal(await wal.append(6, entry(1000)), 0);
    assert.equal(await wal.append(4, entry(2000), { sync: true }), 0);
    assert.deepEqual(
      await collect(wal.entries(5)),
      Array.from({ length: 300 }, (_, i) => i),
    );
    assert.deepEqual(await collect(wal.entries(6)), [1000]);
    assert.deepEqual(await collect(wal.entries(7)), []);
    assert.equal(await wal.latestHeight(), 6);
  } finally {
    await cleanup();
  }
});

test('after a restart appends continue the sequence of a height', async () => {
  const { db, path, cleanup } = await openTempDatabase();
  try {
    const wal = createConsensusWal({}, { db });
    await wal.append(3, entry(1));
    await wal.append(3, entry(2));
    await db.close();
    const reopened = createDatabase({ ...TEST_DATABASE_OPTIONS, path });
    await reopened.open();
    const again = createConsensusWal({}, { db: reopened });
    assert.equal(await again.latestHeight(), 3);
    assert.equal(await again.append(3, entry(3)), 2);
    assert.deepEqual(await collect(again.entries(3)), [1, 2, 3]);
    await reopened.close();
  } finally {
    await cleanup();
  }
});

test('prune deletes every height below the bound and nothing else', async () => {
  const { db, cleanup } = await openTempDatabase();
  try {
    const wal = createConsensusWal({ sync: false }, { db });
    for (let h = 1; h <= 5; h++) for (let i = 0; i < 3; i++) await wal.append(h, entry(h * 10 + i));
    assert.equal(await wal.prune(4), 9);
    for (let h = 1; h <= 3; h++) assert.deepEqual(await collect(wal.entries(h)), []);
    assert.deepEqual(await collect(wal.entries(4)), [40, 41, 42]);
    assert.equal(await wal.prune(4), 0);
    assert.equal(await wal.append(5, entry(99)), 3);
    // Other buckets are untouched.
    const batch = db.createBatch();
    batch.put(bytes(0x01, 1), bytes(1));
    await db.write(batch);
    await wal.prune(100);
    assert.deepEqual(db.getSync(bytes(0x01, 1)), bytes(1));
    assert.equal(await wal.latestHeight(), undefined);
    await assert.rejects(async () => wal.append(-1, entry(0)), { code: 'DB_INVALID_ARGUMENT' });
  } finally {
    await cleanup();
  }
});
