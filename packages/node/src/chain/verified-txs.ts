import { toHex } from '@medledger/types';

/**
 * Hashes of txs whose signature this node already verified. Signature verification is the hot
 * path (DESIGN §3): a tx arrives through the API or from a peer's tx relay (`/txs/1`), then
 * again inside a proposal, and must be verified only once per node.
 */
export class VerifiedTxCache {
  readonly #hashes = new Set<string>();
  constructor(readonly capacity = 200_000) {}

  has(hash: Uint8Array | string): boolean {
    return this.#hashes.has(typeof hash === 'string' ? hash : toHex(hash));
  }

  add(hash: Uint8Array | string): void {
    const id = typeof hash === 'string' ? hash : toHex(hash);
    if (this.#hashes.size >= this.capacity) {
      // Insertion order makes the first key the oldest.
      this.#hashes.delete(this.#hashes.values().next().value!);
    }
    this.#hashes.add(id);
  }
}
