import { bytesEqual } from '@medledger/types';
import { sha256, sha256Parts } from './hash.js';

/**
 * RFC 6962 Merkle tree: leaves and inner nodes hashed with distinct prefixes, so a leaf can
 * never be passed off as a node (second-preimage safe). The root of no leaves is sha256("").
 */
const HASH_BYTES = 32;

/**
 * Prefix and parts are laid out in reused buffers and hashed one-shot: a block's tree takes two
 * hashes per tx (its leaf and an inner node), and a hash object for each cost twice as much.
 * Inner nodes are always 32-byte hashes; leaves are tx hashes, other sizes take the slow path.
 */
const leafInput = new Uint8Array(1 + HASH_BYTES); // 0x00 ‖ leaf
const nodeInput = new Uint8Array(1 + 2 * HASH_BYTES); // 0x01 ‖ left ‖ right
nodeInput[0] = 1;

function leafHash(leaf: Uint8Array): Uint8Array {
  if (leaf.length !== HASH_BYTES) return sha256Parts([leafInput.subarray(0, 1), leaf]);
  leafInput.set(leaf, 1);
  return sha256(leafInput);
}

function nodeHash(l: Uint8Array, r: Uint8Array): Uint8Array {
  nodeInput.set(l, 1);
  nodeInput.set(r, 1 + HASH_BYTES);
  return sha256(nodeInput);
}

/** Largest power of two strictly below n (n >= 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

export function merkleRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  return subtreeRoot(leaves.map(leafHash));
}

/** Root of `hashes[from, to)` (the whole list by default), without copying sub-lists. */
function subtreeRoot(hashes: readonly Uint8Array[], from = 0, to = hashes.length): Uint8Array {
  if (to - from === 1) return hashes[from]!;
  const mid = from + split(to - from);
  return nodeHash(subtreeRoot(hashes, from, mid), subtreeRoot(hashes, mid, to));
}

export interface MerkleProof {
  index: number;
  total: number;
  /** Sibling hashes from the leaf up to the root. */
  path: Uint8Array[];
}

export function merkleProof(leaves: readonly Uint8Array[], index: number): MerkleProof {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) throw new RangeError('leaf index out of range');
  const path: Uint8Array[] = [];
  const walk = (hashes: readonly Uint8Array[], i: number): void => {
    if (hashes.length === 1) return;
    const k = split(hashes.length);
    if (i < k) {
      walk(hashes.slice(0, k), i);
      path.push(subtreeRoot(hashes.slice(k)));
    } else {
      walk(hashes.slice(k), i - k);
      path.push(subtreeRoot(hashes.slice(0, k)));
    }
  };
  walk(leaves.map(leafHash), index);
  return { index, total: leaves.length, path };
}

export function verifyMerkleProof(root: Uint8Array, leaf: Uint8Array, proof: MerkleProof): boolean {
  const { index, total, path } = proof;
  if (!Number.isInteger(index) || !Number.isInteger(total) || index < 0 || index >= total) return false;
  // Recompute the side at each level top-down, then fold bottom-up.
  const sides: boolean[] = [];
  let i = index;
  let n = total;
  while (n > 1) {
    const k = split(n);
    if (i < k) {
      sides.push(true);
      n = k;
    } else {
      sides.push(false);
      i -= k;
      n -= k;
    }
  }
  if (sides.length !== path.length || path.some((h) => h.length !== HASH_BYTES)) return false;
  let h = leafHash(leaf);
  for (let level = 0; level < path.length; level++) {
    const leftChild = sides[sides.length - 1 - level]!;
    h = leftChild ? nodeHash(h, path[level]!) : nodeHash(path[level]!, h);
  }
  return bytesEqual(h, root);
}
