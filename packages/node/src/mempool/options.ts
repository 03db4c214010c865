/** The tx relay's settings (`/txs/1`, ADR 0005); the node fills the protocol from the chain id. */
export interface TxRelayOptions {
  protocol: string;
  /** Txs per batch. */
  maxBatchTxs: number;
  /** Bytes of txs per batch. */
  maxBatchBytes: number;
  /** How long a tx may wait for its batch to fill. */
  flushMs: number;
  /**
   * Txs waiting for one peer. Past this (a stalled peer) the queue is dropped and the peer gets
   * the whole pool again, in order, once it answers.
   */
  maxQueuedTxs: number;
  /** Txs of the pool sent to a peer that has just connected or fell behind. */
  maxResyncTxs: number;
  requestTimeoutMs: number;
  /** Pause after a batch was not delivered, before the peer gets the pool again. */
  retryMs: number;
  /**
   * How long this node's proposals leave out a tx its API took while the tx has not yet reached
   * every peer: a peer missing a proposal's tx fetches it inside the propose step.
   */
  deliveryWaitMs: number;
}

export const DEFAULT_TX_RELAY_OPTIONS: Omit<TxRelayOptions, 'protocol'> = {
  maxBatchTxs: 1024,
  maxBatchBytes: 1024 * 1024,
  flushMs: 10,
  maxQueuedTxs: 20_000,
  maxResyncTxs: 20_000,
  requestTimeoutMs: 10_000,
  retryMs: 500,
  deliveryWaitMs: 100,
};
