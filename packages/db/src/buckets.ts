import { MedLedgerError } from '@medledger/types';
import { DbErrorCode } from './errors.js';

/**
 * Every key prefix of the database, in one place. A key is `[bucket byte, ...bucket-specific
 * parts]`; numbers are fixed-width big-endian so that byte order is numeric order and ranges
 * over heights and times are plain key ranges.
 *
 * | bucket    | key after the prefix      | value                                                         |
 * |-----------|---------------------------|---------------------------------------------------------------|
 * | Meta      | utf8 name                 | per name (see MetaKey)                                        |
 * | Block     | height u64                | block hash (32) ‖ canonical block bytes                       |
 * | BlockHash | block hash (32)           | height u64                                                    |
 * | Commit    | height u64                | encodeCommit                                                  |
 * | Tx        | tx hash (32)              | canonical [height, index, code, log, tx]                      |
 * | State     | owned by @medledger/state | canonical values; hashed into appHash                         |
 * | Index     | owned by @medledger/state | derived query index; not hashed                               |
 * | Document  | 'd' ‖ record id (16)      | owned by the node's document store (ciphertext, wrapped keys) |
 * |           | 'c'                       | the document store's pending-compaction marker                |
 *
 * The byte values are part of the on-disk format: never renumber, only add. 0x20 held the
 * consensus WAL before it moved to files of its own (`wal.ts`); do not reuse it.
 */
export const Bucket = {
  Meta: 0x01,
  Block: 0x02,
  BlockHash: 0x03,
  Commit: 0x04,
  Tx: 0x05,
  State: 0x10,
  Index: 0x11,
  Document: 0x30,
} as const;
export type Bucket = (typeof Bucket)[keyof typeof Bucket];

/** Names in the Meta bucket. */
export const MetaKey = {
  /** u64: last height whose block was written by the block store. */
  LatestHeight: 'latestHeight',
  /** Owned by @medledger/state: height, app hash and block time of the last executed block. */
  State: 'state',
} as const;
export type MetaKey = (typeof MetaKey)[keyof typeof MetaKey];

const TWO_32 = 2 ** 32;
const utf8 = new TextEncoder();

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A non-negative safe integer as 8 bytes big-endian. */
export function uint64BE(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new MedLedgerError(DbErrorCode.INVALID_ARGUMENT, 'expected a non-negative safe integer', { value: n });
  }
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(n / TWO_32));
  view.setUint32(4, n % TWO_32);
  return out;
}

export function readUint64BE(bytes: Uint8Array, offset = 0): number {
  if (bytes.length < offset + 8) throw new MedLedgerError(DbErrorCode.CORRUPT, 'u64 field is truncated');
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
  const n = view.getUint32(0) * TWO_32 + view.getUint32(4);
  if (!Number.isSafeInteger(n)) throw new MedLedgerError(DbErrorCode.CORRUPT, 'u64 field exceeds a safe integer');
  return n;
}

export function uint32BE(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n >= TWO_32) {
    throw new MedLedgerError(DbErrorCode.INVALID_ARGUMENT, 'expected an integer in [0, 2^32)', { value: n });
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** Length-prefixed names already built: org ids and FHIR types recur in every block. */
const lengthPrefixedCache = new Map<string, Uint8Array>();
const LENGTH_PREFIXED_CACHE_SIZE = 4096;

/**
 * A string as one length byte and its utf8 bytes. The length prefix keeps variable-length parts
 * unambiguous inside composite keys ("ab" + "c..." never collides with "abc" + "...").
 * The result may be shared between calls: copy it into a key, never write to it.
 */
export function lengthPrefixed(s: string): Uint8Array {
  const cached = lengthPrefixedCache.get(s);
  if (cached !== undefined) return cached;
  const bytes = utf8.encode(s);
  if (bytes.length > 255) {
    throw new MedLedgerError(DbErrorCode.INVALID_ARGUMENT, 'key part longer than 255 bytes', { length: bytes.length });
  }
  const out = new Uint8Array(bytes.length + 1);
  out[0] = bytes.length;
  out.set(bytes, 1);
  if (lengthPrefixedCache.size >= LENGTH_PREFIXED_CACHE_SIZE) lengthPrefixedCache.clear();
  lengthPrefixedCache.set(s, out);
  return out;
}

/** Each bucket's one-byte prefix, built once: keys are built for every read and write of every tx. */
const BUCKET_PREFIX = new Map<Bucket, Uint8Array>(Object.values(Bucket).map((b) => [b, new Uint8Array([b])]));

/** `bucket ‖ parts…` in one allocation. */
export function bucketKey(bucket: Bucket, ...parts: readonly Uint8Array[]): Uint8Array {
  return concatBytes(BUCKET_PREFIX.get(bucket)!, ...parts);
}

/**
 * The smallest key greater than every key that starts with `prefix`: the exclusive upper bound
 * of a prefix range. Undefined only for an all-0xff prefix, which no bucket uses.
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  throw new MedLedgerError(DbErrorCode.INVALID_ARGUMENT, 'prefix has no upper bound');
}

/** [gte, lt) covering every key that starts with `prefix`. */
export function prefixRange(prefix: Uint8Array): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: prefix, lt: prefixEnd(prefix) };
}

/** The key right after `key` among keys that extend it: `key ‖ 0x00`. Used to resume after a cursor. */
export function keySuccessor(key: Uint8Array): Uint8Array {
  return concatBytes(key, new Uint8Array([0]));
}

export const metaKey = (name: MetaKey): Uint8Array => bucketKey(Bucket.Meta, utf8.encode(name));
export const blockKey = (height: number): Uint8Array => bucketKey(Bucket.Block, uint64BE(height));
export const blockHashKey = (hash: Uint8Array): Uint8Array => bucketKey(Bucket.BlockHash, hash);
export const commitKey = (height: number): Uint8Array => bucketKey(Bucket.Commit, uint64BE(height));
export const txKey = (hash: Uint8Array): Uint8Array => bucketKey(Bucket.Tx, hash);
export const stateKey = (...parts: readonly Uint8Array[]): Uint8Array => bucketKey(Bucket.State, ...parts);
export const indexKey = (...parts: readonly Uint8Array[]): Uint8Array => bucketKey(Bucket.Index, ...parts);
export const documentKey = (...parts: readonly Uint8Array[]): Uint8Array => bucketKey(Bucket.Document, ...parts);

/** [gte, lt) over a whole bucket. */
export function bucketRange(bucket: Bucket): { gte: Uint8Array; lt: Uint8Array } {
  return prefixRange(new Uint8Array([bucket]));
}

/** True when `key` lies in `bucket`. */
export function inBucket(key: Uint8Array, bucket: Bucket): boolean {
  return key.length > 0 && key[0] === bucket;
}
