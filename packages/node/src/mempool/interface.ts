import type { Tx } from '@medledger/types';

export interface MempoolTx {
  tx: Tx;
  hash: Uint8Array;
  hashHex: string;
  bytes: Uint8Array;
  /** Hex address of the sender. */
  sender: string;
}

/**
 * The narrow view of the mempool that consensus depends on (as in CometBFT): the consensus
 * driver reaps txs for its proposals, reads the ones a proposal names, and hands back the
 * hashes each committed block included. The tx relay, inside the mempool subsystem, takes the
 * concrete `Mempool`.
 */
export interface MempoolView {
  readonly size: number;
  readonly bytes: number;
  has(hashHex: string): boolean;
  get(hashHex: string): MempoolTx | undefined;
  /**
   * Up to `maxTxs`/`maxBytes` in arrival order, each account's txs in nonce order. With `ready`,
   * an account's txs are taken up to the first one that is not ready.
   */
  reap(maxTxs: number, maxBytes: number, ready?: (tx: MempoolTx) => boolean): MempoolTx[];
  /** Called once whenever the pool goes from empty to non-empty. */
  onTxsAvailable(listener: () => void): void;
  /**
   * After a commit: drops the txs the block included (hex hashes) and re-checks what is left
   * against the new state.
   */
  update(committedHashes: Iterable<string>): void;
}
