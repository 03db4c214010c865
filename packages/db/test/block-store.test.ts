import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytesEqual } from '@medledger/types';
import { createBlockStore, createDatabase, TEST_DATABASE_OPTIONS, type LevelDatabase } from '../src/index.js';
import { bytes, makeBlock, makeCommit, openTempDatabase, sha256 } from './helpers.js';

async function appendBlock(
  db: LevelDatabase,
  store: ReturnType<typeof createBlockStore>,
  height: number,
  txs: Uint8Array[],
) {
  const prev = height > 1 ? store.getBlock(height - 1)! : undefined;
  const lastCommit = prev ? makeCommit(height - 1, prev.hash, 4) : null;
  const stored = makeBlock(height, txs, lastCommit);
  const batch = db.createBatch();
  store.putBlock(
    batch,
    stored,
    makeCommit(height, stored.hash, 3),
    txs.map(sha256),
    txs.map((_, i) => ({ code: i % 2, log: i % 2 ? 'nonce too low' : '' })),
  );
  await db.write(batch, { sync: true });
  return stored;
}

test('stores blocks, commits and txs and reads them back', async () => {
  const { db, cleanup } = await openTempDatabase();
  try {
    const store = createBlockStore({ db });
    assert.equal(store.latestHeight(), 0);
    assert.equal(store.getBlock(1), undefined);
    const txs = [bytes(1, 2, 3), bytes(4, 5)];
    const b1 = await appendBlock(db, store, 1, txs);
    const b2 = await appendBlock(db, store, 2, [bytes(9)]);
    assert.equal(store.latestHeight(), 2);

    const read = store.getBlock(1)!;
    assert.deepEqual(read.block, b1.block);
    assert.ok(bytesEqual(read.hash, b1.hash));
    assert.ok(bytesEqual(read.bytes, b1.bytes));
    assert.ok(bytesEqual(store.getBlockBytes(2)!, b2.bytes));
    assert.equal(store.heightOfHash(b2.hash), 2);
    assert.equal(store.heightOfHash(sha256(bytes(0))), undefined);
    assert.equal(store.heightOfHash(bytes(1)), undefined);

    // Block 2 carries the canonical commit of block 1 (4 signatures), replacing the seen one (3).
    assert.equal(store.getCommit(1)!.signatures.length, 4);
    assert.deepEqual(store.getCommit(2), makeCommit(2, b2.hash, 3));
    assert.equal(store.getCommit(3), undefined);
    assert.equal(store.getCommit(0), undefined);

    assert.deepEqual(store.getTx(sha256(txs[1]!)), { height: 1, index: 1, code: 1, log: 'nonce too low', tx: txs[1] });
    assert.deepEqual(store.getTx(sha256(txs[0]!)), { height: 1, index: 0, code: 0, log: '', tx: txs[0] });
    assert.equal(store.getTx(sha256(bytes(42))), undefined);
  } finally {
    await cleanup();
  }
});

test('latestHeight moves only once the batch is written, and survives a restart', async () => {
  const { db, path, cleanup } = await openTempDatabase();
  try {
    const store = createBlockStore({ db });
    const stored = makeBlock(1, [], null);
    const batch = db.createBatch();
    store.putBlock(batch, stored, makeCommit(1, stored.hash), [], []);
    assert.equal(store.latestHeight(), 0);
    await db.write(batch);
    assert.equal(store.latestHeight(), 1);
    await appendBlock(db, store, 2, []);
    await db.close();

    const reopened = createDatabase({ ...TEST_DATABASE_OPTIONS, path });
    await reopened.open();
    const again = createBlockStore({ db: reopened });
    assert.equal(again.latestHeight(), 2);
    assert.ok(bytesEqual(again.getBlock(1)!.hash, stored.hash));
    await reopened.close();
  } finally {
    await cleanup();
  }
});

test('putBlock refuses gaps, repeats, mismatched commits and missing results', async () => {
  const { db, cleanup } = await openTempDatabase();
  try {
    const store = createBlockStore({ db });
    const b2 = makeBlock(2, [], null);
    assert.throws(() => store.putBlock(db.createBatch(), b2, makeCommit(2, b2.hash), [], []), {
      code: 'DB_INVALID_ARGUMENT',
    });
    const b1 = makeBlock(1, [bytes(1)], null);
    assert.throws(() => store.putBlock(db.createBatch(), b1, makeCommit(1, b1.hash), [sha256(bytes(1))], []), {
      code: 'DB_INVALID_ARGUMENT',
    });
    assert.throws(
      () =>
        store.putBlock(
          db.createBatch(),
          b1,
          makeCommit(1, sha256(bytes(0))),
          [sha256(bytes(1))],
          [{ code: 0, log: '' }],
        ),
      { code: 'DB_INVALID_ARGUMENT' },
    );
    await appendBlock(db, store, 1, [bytes(1)]);
    const again = makeBlock(1, [], null);
    assert.throws(() => store.putBlock(db.createBatch(), again, makeCommit(1, again.hash), [], []), {
      code: 'DB_INVALID_ARGUMENT',
    });
  } finally {
    await cleanup();
  }
});
