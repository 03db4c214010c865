/** Block sync's settings; the node fills the protocols from the chain id and the rest from the defaults below. */
export interface BlockSyncOptions {
  syncProtocol: string;
  statusProtocol: string;
  /** Blocks asked for in one request. */
  batchBlocks: number;
  maxResponseBytes: number;
  requestTimeoutMs: number;
  /** Verify tx signatures of fetched blocks too, not only their commit certificates (ADR 0008). */
  verifyTxSignatures: boolean;
  /**
   * With `verifyTxSignatures`: fewer signatures than this are checked on the main thread. Sync's
   * batches are whole ranges of blocks, so it posts larger ones to the threads than the relay does.
   */
  verifyMinBatch?: number;
}

export const DEFAULT_SYNC_OPTIONS = {
  batchBlocks: 64,
  maxResponseBytes: 16 * 1024 * 1024,
  requestTimeoutMs: 10_000,
  verifyMinBatch: 128,
} as const;
