/** Gossip topic names; the chain id keeps two chains from ever sharing a topic. */
export function topics(chainId: string): { consensus: string; tx: string } {
  return {
    consensus: `/medledger/${chainId}/consensus/1`,
    tx: `/medledger/${chainId}/tx/1`,
  };
}

/** Request/response protocol ids. */
export function protocols(chainId: string): { sync: string; status: string; docs: string; proposalTxs: string } {
  return {
    sync: `/medledger/${chainId}/sync/1`,
    status: `/medledger/${chainId}/status/1`,
    docs: `/medledger/${chainId}/docs/1`,
    // Txs of a compact proposal that a validator is missing, asked of the proposer.
    proposalTxs: `/medledger/${chainId}/proposal-txs/1`,
  };
}
