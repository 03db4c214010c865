import { MedLedgerError } from '@medledger/types';

/**
 * Error codes of @medledger/consensus. The engine never throws on network input (bad or
 * byzantine messages are ignored); it throws only when the driver calls it wrongly.
 */
export const ConsensusErrorCode = {
  /** EngineOptions or TimeoutParams are malformed (empty or duplicate validator set, bad timeouts). */
  INVALID_OPTIONS: 'CONSENSUS_INVALID_OPTIONS',
  /** startHeight was asked to enter a height at or below the current one: that would drop the lock. */
  HEIGHT_NOT_INCREASING: 'CONSENSUS_HEIGHT_NOT_INCREASING',
  /** A helper (quorum, proposerFor, timeoutFor) got an argument outside its domain. */
  INVALID_ARGUMENT: 'CONSENSUS_INVALID_ARGUMENT',
} as const;
export type ConsensusErrorCode = (typeof ConsensusErrorCode)[keyof typeof ConsensusErrorCode];

export function consensusError(
  code: ConsensusErrorCode,
  message: string,
  meta: Record<string, unknown> = {},
): MedLedgerError {
  return new MedLedgerError(code, message, meta);
}
