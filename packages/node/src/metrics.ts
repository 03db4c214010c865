import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one node. Each node has its own registry so several nodes can share a
 * process in tests. Names carry units (DESIGN §9).
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'medledger_process_' });
  const r = { registers: [registry] };
  return {
    registry,
    height: new Gauge({ name: 'medledger_height', help: 'Last committed block height', ...r }),
    round: new Gauge({ name: 'medledger_consensus_round', help: 'Current consensus round', ...r }),
    roundsPerHeight: new Histogram({
      name: 'medledger_consensus_rounds_per_height',
      help: 'Rounds needed to decide a height (1 = first round)',
      buckets: [1, 2, 3, 4, 6, 10],
      ...r,
    }),
    blockIntervalSeconds: new Histogram({
      name: 'medledger_block_interval_seconds',
      help: 'Time between consecutive committed blocks (block times)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      ...r,
    }),
    blockTxs: new Histogram({
      name: 'medledger_block_txs',
      help: 'Transactions per committed block',
      buckets: [0, 1, 10, 100, 500, 1000, 2500, 5000],
      ...r,
    }),
    txsCommitted: new Counter({ name: 'medledger_txs_committed_total', help: 'Committed transactions', ...r }),
    proposalsMissed: new Counter({
      name: 'medledger_proposals_missed_total',
      help: 'Rounds in which the scheduled proposer did not get its block decided, per validator',
      labelNames: ['validator'],
      ...r,
    }),
    // Operator view of each validator (labelled by address and name), as in GET /validators.
    validatorMissedBlocks: new Counter({
      name: 'medledger_validator_missed_blocks_total',
      help: 'Heights of the validator set at which this node received no vote from the validator',
      labelNames: ['validator', 'name'],
      ...r,
    }),
    validatorLastSignedHeight: new Gauge({
      name: 'medledger_validator_last_signed_height',
      help: 'Last height for which this node saw a vote from the validator',
      labelNames: ['validator', 'name'],
      ...r,
    }),
    validatorLastProposedHeight: new Gauge({
      name: 'medledger_validator_last_proposed_height',
      help: 'Last height whose committed block the validator proposed',
      labelNames: ['validator', 'name'],
      ...r,
    }),
    validators: new Gauge({ name: 'medledger_validators', help: 'Validators in the set of the current height', ...r }),
    isValidator: new Gauge({
      name: 'medledger_validator_active',
      help: '1 while this node is in the validator set of the current height',
      ...r,
    }),
    roundTimeouts: new Counter({
      name: 'medledger_consensus_round_timeouts_total',
      help: 'Timeouts that moved consensus on without a decision, by step',
      labelNames: ['step'],
      ...r,
    }),
    consensusResent: new Counter({
      name: 'medledger_consensus_resent_messages_total',
      help: 'Own consensus messages published again because the height stalled',
      ...r,
    }),
    proposalTxsFetched: new Counter({
      name: 'medledger_consensus_proposal_txs_fetched_total',
      help: 'Txs of compact proposals missing from the mempool and fetched from the proposer',
      ...r,
    }),
    peers: new Gauge({ name: 'medledger_peers', help: 'Connected peers', ...r }),
    mempoolTxs: new Gauge({ name: 'medledger_mempool_txs', help: 'Transactions waiting in the mempool', ...r }),
    mempoolBytes: new Gauge({ name: 'medledger_mempool_bytes', help: 'Bytes waiting in the mempool', ...r }),
    mempoolRejected: new Counter({
      name: 'medledger_mempool_rejected_total',
      help: 'Transactions refused by the mempool, by code',
      labelNames: ['code'],
      ...r,
    }),
    relayTxsSent: new Counter({
      name: 'medledger_relay_txs_sent_total',
      help: 'Txs the tx relay delivered to peers, resends included',
      ...r,
    }),
    relayTxsReceived: new Counter({
      name: 'medledger_relay_txs_received_total',
      help: 'Txs peers relayed to this node, by what became of them: added, known (already pooled), refused',
      labelNames: ['result'],
      ...r,
    }),
    relayDeferrals: new Counter({
      name: 'medledger_relay_deferrals_total',
      help: 'Tx batches a peer took only in part (its pool was full); the rest is sent again later',
      ...r,
    }),
    relayResyncs: new Counter({
      name: 'medledger_relay_resyncs_total',
      help: 'Times the tx relay sent a peer its pool again, by reason: connected, refused (no room), failed, overflow',
      labelNames: ['reason'],
      ...r,
    }),
    syncing: new Gauge({ name: 'medledger_sync_catching_up', help: '1 while the node is syncing blocks', ...r }),
    syncedBlocks: new Counter({ name: 'medledger_sync_blocks_total', help: 'Blocks applied through block sync', ...r }),
    evidence: new Counter({ name: 'medledger_evidence_detected_total', help: 'Equivocations detected', ...r }),
    consensusStepSeconds: new Histogram({
      name: 'medledger_consensus_step_seconds',
      help: 'Time a height spends in each step on this node: propose (until our prevote), prevote, precommit, commit',
      labelNames: ['step'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      ...r,
    }),
    blockExecSeconds: new Histogram({
      name: 'medledger_block_execution_seconds',
      help: 'Time to validate and execute a block',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2],
      ...r,
    }),
    apiRequestSeconds: new Histogram({
      name: 'medledger_api_request_duration_seconds',
      help: 'HTTP API request duration',
      labelNames: ['route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      ...r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
