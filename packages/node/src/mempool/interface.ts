import type { Tx } from '@medledger/types';

export interface MempoolTx {
  tx: Tx;
  hash: Uint8Array;
  hashHex: string;
  bytes: Uint8Array;
  /** Hex address of the sender. */
  sender: string;
}

/** The narrow view of the mempool that block building and consensus depend on (as in CometBFT). */
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
}
