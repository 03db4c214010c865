import {
  HASH_BYTES,
  MedLedgerError,
  assertBytes,
  assertString,
  assertUint,
  bytesEqual,
  decodeBlock,
  decodeCanonical,
  decodeCommit,
  encodeCanonical,
  encodeCommit,
  type Commit,
} from '@medledger/types';
import type { BlockStore, Database, StoredBlock, TxLocation, WriteBatch } from './interface.js';
import {
  blockHashKey,
  blockKey,
  commitKey,
  concatBytes,
  metaKey,
  MetaKey,
  readUint64BE,
  txKey,
  uint64BE,
} from './buckets.js';
import { LevelWriteBatch } from './database.js';
import { DbErrorCode, dbError } from './errors.js';

/** Logs are kept short; a longer one is cut, never rejected (the result code is what counts). */
const MAX_LOG_CHARS = 256;

/**
 * Blocks, commits and tx locations. A block is stored as its block hash followed by its
 * canonical bytes (the hash is not recomputed here: what a block hash is belongs to the node).
 * A tx entry keeps the tx bytes next to its location so `getTx` is one point read.
 *
 * `latestHeight` is cached in memory and moved by a hook that runs once the batch holding the
 * block is on disk, so readers never see a height whose block is not yet readable.
 */
export class LevelBlockStore implements BlockStore {
  readonly #db: Database;
  #latestHeight: number | undefined;
  /** Batches from another Database implementation have no hook: then read through every time. */
  #readThrough = false;

  constructor(modules: { db: Database }) {
    this.#db = modules.db;
  }

  latestHeight(): number {
    if (this.#latestHeight === undefined || this.#readThrough) {
      const bytes = this.#db.getSync(metaKey(MetaKey.LatestHeight));
      const height = bytes === undefined ? 0 : readUint64BE(bytes);
      if (this.#readThrough) return height;
      this.#latestHeight = height;
    }
    return this.#latestHeight;
  }

  getBlockBytes(height: number): Uint8Array | undefined {
    const value = this.#getBlockValue(height);
    return value?.subarray(HASH_BYTES);
  }

  getBlock(height: number): StoredBlock | undefined {
    const value = this.#getBlockValue(height);
    if (value === undefined) return undefined;
    const bytes = value.subarray(HASH_BYTES);
    try {
      return { block: decodeBlock(bytes), hash: value.subarray(0, HASH_BYTES), bytes };
    } catch (err) {
      throw corrupt(`block ${height}`, err);
    }
  }

  heightOfHash(hash: Uint8Array): number | undefined {
    if (hash.length !== HASH_BYTES) return undefined;
    const bytes = this.#db.getSync(blockHashKey(hash));
    return bytes === undefined ? undefined : readUint64BE(bytes);
  }

  getCommit(height: number): Commit | undefined {
    if (!isHeight(height)) return undefined;
    const bytes = this.#db.getSync(commitKey(height));
    if (bytes === undefined) return undefined;
    try {
      return decodeCommit(bytes);
    } catch (err) {
      throw corrupt(`commit ${height}`, err);
    }
  }

  getTx(hash: Uint8Array): (TxLocation & { tx: Uint8Array }) | undefined {
    if (hash.length !== HASH_BYTES) return undefined;
    const bytes = this.#db.getSync(txKey(hash));
    if (bytes === undefined) return undefined;
    try {
      const v = decodeCanonical(bytes);
      if (!Array.isArray(v) || v.length !== 5) throw new Error('expected 5 fields');
      return {
        height: assertUint(v[0], 'tx.height'),
        index: assertUint(v[1], 'tx.index'),
        code: assertUint(v[2], 'tx.code'),
        log: v[3] === '' ? '' : assertString(v[3], 'tx.log', MAX_LOG_CHARS),
        tx: assertBytes(v[4], 'tx.bytes'),
      };
    } catch (err) {
      throw corrupt('tx location', err);
    }
  }

  /**
   * Blocks are appended in height order: `stored` must be the block right after the latest one.
   * Also stores `block.lastCommit` as the commit of the parent (the canonical certificate, which
   * replaces the commit this node saw), and the location of every tx. Tx hashes are unique on
   * the chain, so no earlier location is looked for: the chain commits only blocks whose txs all
   * succeed and appear once, and a tx that succeeded once fails its nonce ever after.
   */
  putBlock(
    batch: WriteBatch,
    stored: StoredBlock,
    commit: Commit,
    txHashes: Uint8Array[],
    results: { code: number; log: string }[],
  ): void {
    const { block, hash, bytes } = stored;
    const height = block.header.height;
    const expected = this.latestHeight() + 1;
    if (height !== expected) {
      throw dbError(DbErrorCode.INVALID_ARGUMENT, `block height ${height} is not the next height ${expected}`, {
        height,
        expected,
      });
    }
    if (hash.length !== HASH_BYTES) throw dbError(DbErrorCode.INVALID_ARGUMENT, 'block hash must be 32 bytes');
    if (txHashes.length !== block.txs.length || results.length !== block.txs.length) {
      throw dbError(DbErrorCode.INVALID_ARGUMENT, 'one tx hash and one result per tx are required', {
        txs: block.txs.length,
        hashes: txHashes.length,
        results: results.length,
      });
    }
    if (commit.height !== height || !bytesEqual(commit.blockHash, hash)) {
      throw dbError(DbErrorCode.INVALID_ARGUMENT, 'commit is not for this block', { height });
    }

    batch.put(blockKey(height), concatBytes(hash, bytes));
    batch.put(blockHashKey(hash), uint64BE(height));
    batch.put(commitKey(height), encodeCommit(commit));
    if (block.lastCommit && height > 1) batch.put(commitKey(height - 1), encodeCommit(block.lastCommit));

    for (let i = 0; i < txHashes.length; i++) {
      const { code, log } = results[i]!;
      const location = [height, i, code, log.slice(0, MAX_LOG_CHARS), block.txs[i]!];
      batch.put(txKey(txHashes[i]!), encodeCanonical(location));
    }

    batch.put(metaKey(MetaKey.LatestHeight), uint64BE(height));
    if (batch instanceof LevelWriteBatch) {
      batch.onWritten(() => {
        if (this.#latestHeight === undefined || height > this.#latestHeight) this.#latestHeight = height;
      });
    } else {
      this.#readThrough = true;
    }
  }

  #getBlockValue(height: number): Uint8Array | undefined {
    if (!isHeight(height)) return undefined;
    const value = this.#db.getSync(blockKey(height));
    if (value !== undefined && value.length <= HASH_BYTES) throw corrupt(`block ${height}`, new Error('too short'));
    return value;
  }
}

function isHeight(height: number): boolean {
  return Number.isSafeInteger(height) && height >= 1;
}

function corrupt(what: string, err: unknown): MedLedgerError {
  return dbError(DbErrorCode.CORRUPT, `stored ${what} does not decode: ${(err as Error).message}`);
}

export function createBlockStore(modules: { db: Database }): LevelBlockStore {
  return new LevelBlockStore(modules);
}
