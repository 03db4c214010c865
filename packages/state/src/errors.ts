import { MedLedgerError } from '@medledger/types';

/** Errors the state machine throws. A tx that breaks a rule is not an error: it gets a TxResult. */
export const StateErrorCode = {
  /** The genesis file cannot produce a state (e.g. one key claimed by two organisations). */
  GENESIS_INVALID: 'STATE_GENESIS_INVALID',
  /** The database holds the state of another genesis. */
  GENESIS_MISMATCH: 'STATE_GENESIS_MISMATCH',
  WRONG_CHAIN: 'STATE_WRONG_CHAIN',
  /** executeBlock was given a block that is not the next one, or with time going backwards. */
  WRONG_HEIGHT: 'STATE_WRONG_HEIGHT',
  INVALID_BLOCK_TIME: 'STATE_INVALID_BLOCK_TIME',
  /** commit() was called for a height/app hash that is not what the written batch holds. */
  COMMIT_MISMATCH: 'STATE_COMMIT_MISMATCH',
  /** Stored state does not decode. */
  CORRUPT: 'STATE_CORRUPT',
  /** A query's parameters are malformed (maps to HTTP 400). */
  INVALID_QUERY: 'STATE_INVALID_QUERY',
  INVALID_CURSOR: 'STATE_INVALID_CURSOR',
} as const;
export type StateErrorCode = (typeof StateErrorCode)[keyof typeof StateErrorCode];

export function stateError(code: StateErrorCode, message: string, meta: Record<string, unknown> = {}): MedLedgerError {
  return new MedLedgerError(code, message, meta);
}
