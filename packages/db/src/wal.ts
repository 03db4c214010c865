import type { ConsensusWal, Database } from './interface.js';
import { Bucket, bucketRange, prefixRange, readUint32BE, readUint64BE, walHeightPrefix, walKey } from './buckets.js';
import { DbErrorCode, dbError } from './errors.js';
import { DEFAULT_WAL_OPTIONS, type WalOptions } from './options.js';

const PRUNE_CHUNK = 1000;

/**
 * The consensus WAL in the ConsensusWal bucket, keyed by (height, sequence). Appends are
 * serialised through one promise chain: the next sequence of a height is found with a range
 * read the first time, and two concurrent appends must not pick the same one.
 */
export class LevelConsensusWal implements ConsensusWal {
  readonly #db: Database;
  readonly #opts: WalOptions;
  /** Next sequence number per height seen since start. */
  readonly #nextSequence = new Map<number, number>();
  #tail: Promise<unknown> = Promise.resolve();

  constructor(opts: Partial<WalOptions>, modules: { db: Database }) {
    this.#opts = { ...DEFAULT_WAL_OPTIONS, ...opts };
    this.#db = modules.db;
  }

  append(height: number, entry: Uint8Array, opts: { sync?: boolean } = {}): Promise<number> {
    assertHeight(height);
    const run = this.#tail.then(async () => {
      const sequence = this.#nextSequence.get(height) ?? (await this.#findNextSequence(height));
      const batch = this.#db.createBatch();
      batch.put(walKey(height, sequence), entry);
      await this.#db.write(batch, { sync: opts.sync ?? this.#opts.sync });
      this.#nextSequence.set(height, sequence + 1);
      return sequence;
    });
    // A failed append must not wedge the ones queued after it.
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async *entries(height: number): AsyncGenerator<Uint8Array> {
    assertHeight(height);
    for await (const [, value] of this.#db.range(prefixRange(walHeightPrefix(height)))) yield value;
  }

  async latestHeight(): Promise<number | undefined> {
    for await (const [key] of this.#db.range({ ...bucketRange(Bucket.ConsensusWal), reverse: true, limit: 1 })) {
      return readUint64BE(key, 1);
    }
    return undefined;
  }

  prune(belowHeight: number): Promise<number> {
    assertHeight(belowHeight);
    const run = this.#tail.then(async () => {
      const { gte } = bucketRange(Bucket.ConsensusWal);
      const lt = walHeightPrefix(belowHeight);
      let deleted = 0;
      for (;;) {
        const batch = this.#db.createBatch();
        for await (const [key] of this.#db.range({ gte, lt, limit: PRUNE_CHUNK })) batch.del(key);
        if (batch.length === 0) break;
        await this.#db.write(batch);
        deleted += batch.length;
      }
      for (const h of this.#nextSequence.keys()) if (h < belowHeight) this.#nextSequence.delete(h);
      return deleted;
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #findNextSequence(height: number): Promise<number> {
    for await (const [key] of this.#db.range({ ...prefixRange(walHeightPrefix(height)), reverse: true, limit: 1 })) {
      return readUint32BE(key, 9) + 1;
    }
    return 0;
  }
}

function assertHeight(height: number): void {
  if (!Number.isSafeInteger(height) || height < 0) {
    throw dbError(DbErrorCode.INVALID_ARGUMENT, 'WAL height must be a non-negative integer', { height });
  }
}

export function createConsensusWal(opts: Partial<WalOptions>, modules: { db: Database }): LevelConsensusWal {
  return new LevelConsensusWal(opts, modules);
}
