import type { Block, Commit } from '@medledger/types';

/**
 * The storage contract the rest of the node depends on. One classic-level database per node;
 * each repository owns a key prefix (bucket). Reads on hot paths are synchronous (`getSync`).
 * All of a block's effects go into one `WriteBatch` that is written atomically.
 */
export interface WriteBatch {
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  readonly length: number;
  /** Releases a batch that will not be written; later ops on it throw. */
  discard(): void;
}

export interface KeyValueReader {
  getSync(key: Uint8Array): Uint8Array | undefined;
  /**
   * Ascending (or descending) over [gte, lt), at most `limit` entries. Async: classic-level
   * iterators have no synchronous form, only point reads do.
   */
  range(opts: {
    gte: Uint8Array;
    lt: Uint8Array;
    limit?: number;
    reverse?: boolean;
  }): AsyncIterable<[Uint8Array, Uint8Array]>;
}

export interface Database extends KeyValueReader {
  open(): Promise<void>;
  close(): Promise<void>;
  createBatch(): WriteBatch;
  /** Writes the batch atomically; `sync` forces it to disk before resolving. */
  write(batch: WriteBatch, opts?: { sync?: boolean }): Promise<void>;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
}

export interface TxLocation {
  height: number;
  index: number;
  /** Deterministic result code of execution (0 = ok). */
  code: number;
  log: string;
}

export interface StoredBlock {
  block: Block;
  hash: Uint8Array;
  /** The canonical bytes as committed. */
  bytes: Uint8Array;
}

export interface BlockStore {
  /** Last committed height, 0 before the first block. */
  latestHeight(): number;
  getBlock(height: number): StoredBlock | undefined;
  getBlockBytes(height: number): Uint8Array | undefined;
  heightOfHash(hash: Uint8Array): number | undefined;
  /** The commit certificate for the block at `height` (the next block's lastCommit, or the seen commit). */
  getCommit(height: number): Commit | undefined;
  getTx(hash: Uint8Array): (TxLocation & { tx: Uint8Array }) | undefined;
  /** Adds the block, its commit, every tx location and the new latest height to `batch`. */
  putBlock(
    batch: WriteBatch,
    stored: StoredBlock,
    commit: Commit,
    txHashes: Uint8Array[],
    results: { code: number; log: string }[],
  ): void;
}

/**
 * The consensus write-ahead log: every consensus message this node acted on, per height, in the
 * order it was appended, so a restarted node can replay the height it was in.
 */
export interface ConsensusWal {
  /**
   * Appends one entry to `height`'s log and returns its sequence number (0, 1, ...). The entry
   * is written before the call returns; `sync` makes it, and every entry of the height written
   * before it, durable before the call returns.
   */
  append(height: number, entry: Uint8Array, opts?: { sync?: boolean }): Promise<number>;
  /** The entries of `height` in append order. */
  entries(height: number): AsyncIterable<Uint8Array>;
  /** The highest height with entries, or undefined when the log is empty. */
  latestHeight(): Promise<number | undefined>;
  /** Deletes every entry below `height`; returns how many were deleted. */
  prune(belowHeight: number): Promise<number>;
}
