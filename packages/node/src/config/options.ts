/** Per-node settings (not consensus-critical: those are chain params in genesis). */
export interface NodeConfig {
  /** Human name of this node, e.g. "hospital-a-1". */
  name: string;
  /** The organisation this node belongs to. */
  org: string;
  api: { host: string; port: number; bodyLimitBytes: number; commitWaitMs: number };
  p2p: { host: string; port: number; bootstrap: string[] };
  mempool: MempoolOptions;
  sync: SyncSettings;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' };
  /**
   * Test networks only, never on in production: enables POST /debug/faults (partition tests)
   * and allows the byzantine test fault MEDLEDGER_BYZANTINE=equivocate (consensus/byzantine.ts).
   */
  faults: boolean;
}

/** CLI flags and tests override single fields of a section. */
export type NodeConfigOverrides = {
  [K in keyof NodeConfig]?: NodeConfig[K] extends unknown[]
    ? NodeConfig[K]
    : NodeConfig[K] extends object
      ? Partial<NodeConfig[K]>
      : NodeConfig[K];
};

export interface SyncSettings {
  /**
   * Verify every tx signature of blocks fetched by block sync. Off by default: each block
   * arrives with a commit certificate of more than 2/3 of the validators, each of which checked
   * every signature before voting (ADR 0008).
   */
  verifyTxSignatures: boolean;
}

export interface MempoolOptions {
  maxTxs: number;
  maxBytes: number;
  /** Pending txs one account may hold: the consortium's rate limit in place of fees. */
  maxPerAccount: number;
  /**
   * Worker threads that check signatures: of the tx batches peers relay over `/txs/1` and, with
   * `sync.verifyTxSignatures`, of blocks fetched by block sync (one pool); 0 checks them inline.
   */
  verifyThreads: number;
}

export const DEFAULT_NODE_CONFIG: NodeConfig = {
  name: 'node',
  org: 'org',
  api: { host: '127.0.0.1', port: 26657, bodyLimitBytes: 1024 * 1024, commitWaitMs: 30_000 },
  p2p: { host: '127.0.0.1', port: 26656, bootstrap: [] },
  mempool: { maxTxs: 5_000, maxBytes: 64 * 1024 * 1024, maxPerAccount: 10_000, verifyThreads: 2 },
  sync: { verifyTxSignatures: false },
  log: { level: 'info' },
  faults: false,
};
