import type { GossipVerdict } from './interface.js';

/**
 * Optional hooks the node wires to its Prometheus registry; the network keeps no metric state
 * of its own. Names on the node side carry units (e.g. `medledger_network_request_seconds`).
 */
export interface NetworkMetrics {
  /** One gossip message finished validation (or was dropped before it: `reason` says why). */
  gossipValidated?(topic: string, verdict: GossipVerdict, reason: GossipDropReason | 'validator'): void;
  /** One inbound request was answered. */
  requestServed?(protocol: string, outcome: RequestOutcome): void;
  /** One outbound request finished; `seconds` from dial to response. */
  requestSent?(protocol: string, outcome: RequestOutcome, seconds: number): void;
  peersChanged?(connected: number): void;
}

export type GossipDropReason = 'blocked' | 'oversize' | 'queue_full' | 'validator_threw';
export type RequestOutcome = 'ok' | 'error' | 'rate_limited' | 'too_large' | 'aborted';
