import { Bucket, bucketRange, documentKey, type Database } from '@medledger/db';
import {
  assertBytes,
  assertRecord,
  assertUint,
  decodeCanonical,
  encodeCanonical,
  fromHex,
  MedLedgerError,
  toHex,
} from '@medledger/types';
import { DocErrorCode } from './errors.js';

/**
 * The node's document store (off chain, in its LevelDB, `Document` bucket): one entry per
 * record this node holds, `0x30 ‖ 'd' ‖ record(16)` → canonical { ciphertext, authorKey,
 * patientKey, storedAt }. Only ciphertext and wrapped keys are ever written here; plaintext and
 * data keys never are. Deleting an entry is crypto-shredding: the wrapped keys go with it, and
 * the range is compacted so the bytes leave LevelDB's files too.
 */
const DOC = new Uint8Array(['d'.charCodeAt(0)]);
/**
 * `0x30 ‖ 'c'`: written with a deletion's tombstones, removed once the range is compacted. A
 * crash in between leaves it, and the next start compacts: the deleted keys are no longer listed,
 * so nothing else would find the bytes still in the files.
 */
const COMPACTION_PENDING = documentKey(new Uint8Array(['c'.charCodeAt(0)]));

export interface StoredDocument {
  record: string;
  ciphertext: Uint8Array;
  /** The data key wrapped for the author organisation's enc key. */
  authorKey: Uint8Array;
  /** The data key wrapped for the patient's enc key, when the patient has one. */
  patientKey: Uint8Array | null;
  /** Wall-clock ms when this node stored it (local fact, not consensus). */
  storedAt: number;
}

const keyOf = (record: string) => documentKey(DOC, fromHex(record, 'record'));

export class DocumentStore {
  constructor(private readonly db: Database) {}

  get(record: string): StoredDocument | undefined {
    const bytes = this.db.getSync(keyOf(record));
    return bytes === undefined ? undefined : decode(record, bytes);
  }

  has(record: string): boolean {
    return this.db.getSync(keyOf(record)) !== undefined;
  }

  async put(doc: StoredDocument): Promise<void> {
    const batch = this.db.createBatch();
    batch.put(
      keyOf(doc.record),
      encodeCanonical({
        ciphertext: doc.ciphertext,
        authorKey: doc.authorKey,
        patientKey: doc.patientKey,
        storedAt: doc.storedAt,
      }),
    );
    await this.db.write(batch, { sync: true });
  }

  /** Deletes the records' entries in one synced batch, then compacts them out of the files. */
  async delete(records: readonly string[]): Promise<number> {
    const present = records.filter((r) => this.has(r));
    if (present.length === 0) return 0;
    // First push the values out of the memtable: a flush writes a value and its tombstone into
    // one table file when both are still in memory, and that file may never be compacted again.
    await this.compact();
    const batch = this.db.createBatch();
    for (const r of present) batch.del(keyOf(r));
    batch.put(COMPACTION_PENDING, new Uint8Array(0));
    await this.db.write(batch, { sync: true });
    await this.finishErasure();
    return present.length;
  }

  /** Compacts the range if a deletion's compaction did not finish (a crash), then clears the marker. */
  async finishErasure(): Promise<void> {
    if (this.db.getSync(COMPACTION_PENDING) === undefined) return;
    await this.compact();
    const batch = this.db.createBatch();
    batch.del(COMPACTION_PENDING);
    await this.db.write(batch);
  }

  /** Record ids of every document held. */
  async records(): Promise<string[]> {
    const ids: string[] = [];
    for await (const [key] of this.db.range(bucketRange(Bucket.Document))) {
      if (key.length === 2 + 16 && key[1] === DOC[0]) ids.push(toHex(key.subarray(2)));
    }
    return ids;
  }

  /**
   * LevelDB keeps deleted values in its log and table files until a compaction merges them with
   * their tombstone; for erasure the bytes must go, so the Document range is compacted right away.
   */
  async compact(): Promise<void> {
    const db = this.db as Database & { compactRange?: (gte: Uint8Array, lt: Uint8Array) => Promise<void> };
    if (typeof db.compactRange === 'function') {
      const { gte, lt } = bucketRange(Bucket.Document);
      await db.compactRange(gte, lt);
    }
  }
}

function decode(record: string, bytes: Uint8Array): StoredDocument {
  try {
    const v = assertRecord(decodeCanonical(bytes), 'document');
    return {
      record,
      ciphertext: assertBytes(v.ciphertext, 'ciphertext'),
      authorKey: assertBytes(v.authorKey, 'authorKey'),
      patientKey: v.patientKey === null ? null : assertBytes(v.patientKey, 'patientKey'),
      storedAt: assertUint(v.storedAt, 'storedAt'),
    };
  } catch (err) {
    throw new MedLedgerError(DocErrorCode.STORE_CORRUPT, `stored document does not decode: ${(err as Error).message}`);
  }
}
