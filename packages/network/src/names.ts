/** Gossip topic names; the chain id keeps two chains from ever sharing a topic. */
export function topics(chainId: string): { consensus: string } {
  return { consensus: `/medledger/${chainId}/consensus/1` };
}

/** Request/response protocol ids. */
export function protocols(chainId: string): {
  sync: string;
  status: string;
  docs: string;
  proposalTxs: string;
  txs: string;
} {
  return {
    sync: `/medledger/${chainId}/sync/1`,
    status: `/medledger/${chainId}/status/1`,
    docs: `/medledger/${chainId}/docs/1`,
    // Txs of a compact proposal that a validator is missing, asked of the proposer.
    proposalTxs: `/medledger/${chainId}/proposal-txs/1`,
    // Batches of txs a node's API accepted, pushed to each peer (no gossip forwarding).
    txs: `/medledger/${chainId}/txs/1`,
  };
}
