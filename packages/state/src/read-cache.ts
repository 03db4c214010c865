import { Bucket, inBucket, type KeyValueReader } from '@medledger/db';
import { keyId, type CommittedReader, type KeyedWrite } from './overlay.js';

/**
 * Committed State-bucket values that execution read, kept in memory: every tx reads its sender's
 * nonce and key owner, most read a patient, and these few keys recur in every block (a LevelDB
 * point read was a tenth of block execution). Only present values are kept; the committed
 * block's State writes update the keys held, so the cache always equals the database (`apply`
 * is called with the writes of each committed block, nothing else writes state).
 */
export class CommittedReadCache implements CommittedReader {
  readonly #values = new Map<string, Uint8Array>();

  constructor(
    private readonly db: Pick<KeyValueReader, 'getSync'>,
    private readonly capacity = 200_000,
  ) {}

  getSync(key: Uint8Array, id = keyId(key)): Uint8Array | undefined {
    const hit = this.#values.get(id);
    if (hit !== undefined) return hit;
    const value = this.db.getSync(key);
    // State entries only: a block's commit hands over only its State writes (StateMachine.commit).
    if (value !== undefined && inBucket(key, Bucket.State)) {
      if (this.#values.size >= this.capacity) this.#values.clear();
      this.#values.set(id, value);
    }
    return value;
  }

  /** The writes of a block now on disk. */
  apply(writes: readonly KeyedWrite[]): void {
    for (const w of writes) {
      if (!this.#values.has(w.id)) continue;
      if (w.value === null) this.#values.delete(w.id);
      else this.#values.set(w.id, w.value);
    }
  }

  clear(): void {
    this.#values.clear();
  }
}
