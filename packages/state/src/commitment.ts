import { Bucket, inBucket } from '@medledger/db';
import { sha256, sha256Parts } from '@medledger/crypto';
import { compareBytes, encodeCanonical } from '@medledger/types';
import type { TxResult } from './interface.js';
import type { StateWrite } from './overlay.js';

/**
 * The state commitment (ADR 0004):
 *
 *   writeSetHash = sha256(canonical [[key, value | null], ...] of the State bucket, sorted by key)
 *   resultsHash  = sha256(canonical [[txHash, code], ...] in block order)
 *   appHash_0    = writeSetHash(genesis writes)
 *   appHash_h    = sha256(appHash_{h-1} ‖ writeSetHash_h ‖ resultsHash_h)
 *
 * Only the State bucket is committed: the index is a derived local view that may change
 * without a fork. Result logs are left out for the same reason; codes are consensus.
 */
export function writeSetHash(writes: readonly StateWrite[]): Uint8Array {
  const committed = writes.filter((w) => inBucket(w.key, Bucket.State));
  // A block's writes come sorted (StateOverlay.writes); checking is linear, sorting is not.
  if (!sortedByKey(committed)) committed.sort((a, b) => compareBytes(a.key, b.key));
  return sha256(encodeCanonical(committed.map((w) => [w.key, w.value])));
}

function sortedByKey(writes: readonly StateWrite[]): boolean {
  for (let i = 1; i < writes.length; i++) if (compareBytes(writes[i - 1]!.key, writes[i]!.key) > 0) return false;
  return true;
}

export function resultsHash(txHashes: readonly Uint8Array[], results: readonly TxResult[]): Uint8Array {
  return sha256(encodeCanonical(results.map((r, i) => [txHashes[i]!, r.code])));
}

export function nextAppHash(previous: Uint8Array, writes: Uint8Array, results: Uint8Array): Uint8Array {
  return sha256Parts([previous, writes, results]);
}
