import { DEFAULT_CHAIN_PARAMS, type ChainParams } from '@medledger/types';
import { consensusError, ConsensusErrorCode } from './errors.js';
import type { TimeoutParams } from './interface.js';

/** The consensus timeouts a chain's params set (the same on every validator, from genesis). */
export function timeoutParamsFromChain(p: ChainParams): TimeoutParams {
  return {
    proposeMs: p.timeoutProposeMs,
    prevoteMs: p.timeoutPrevoteMs,
    precommitMs: p.timeoutPrecommitMs,
    deltaMs: p.timeoutDeltaMs,
    capMs: p.timeoutCapMs,
  };
}

/** The timeouts of the default chain params (DESIGN §4: propose 1 s, prevote and precommit 0.5 s, +0.5 s a round, cap 10 s). */
export const defaultTimeoutParams: Readonly<TimeoutParams> = Object.freeze(
  timeoutParamsFromChain(DEFAULT_CHAIN_PARAMS),
);

export function validateTimeoutParams(t: TimeoutParams): void {
  for (const key of ['proposeMs', 'prevoteMs', 'precommitMs', 'deltaMs', 'capMs'] as const) {
    const v: unknown = t?.[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw consensusError(ConsensusErrorCode.INVALID_OPTIONS, `timeouts.${key}: expected a finite number >= 0`, {
        field: `timeouts.${key}`,
      });
    }
  }
}

/**
 * Memory bounds against byzantine peers. The engine keeps every message of the current height
 * (the decision and POL rules look at any round), so what needs a bound is what a single
 * validator can make it hold for rounds and heights nobody honest has reached yet.
 */
export interface EngineLimits {
  /**
   * Distinct rounds above the current one for which one validator's messages are kept. When a
   * validator exceeds it, its lowest future round is dropped (the highest rounds are the ones
   * that let a lagging node skip ahead, line 55).
   */
  maxFutureRoundsPerValidator: number;
  /** Messages for height + 1 kept per validator (first come; round 0 matters most). */
  maxNextHeightMessagesPerValidator: number;
  /** Distinct proposals kept per round (only from that round's proposer; more means it equivocates). */
  maxProposalsPerRound: number;
  /**
   * Conflicting votes kept per (round, type, validator) after its first one. They count for the
   * value they name (an honest validator never has any); more are evidence only.
   */
  maxConflictingVotesPerSlot: number;
}

export const defaultEngineLimits: Readonly<EngineLimits> = Object.freeze({
  maxFutureRoundsPerValidator: 8,
  maxNextHeightMessagesPerValidator: 32,
  maxProposalsPerRound: 4,
  maxConflictingVotesPerSlot: 3,
});

export function validateEngineLimits(l: EngineLimits): void {
  for (const key of [
    'maxFutureRoundsPerValidator',
    'maxNextHeightMessagesPerValidator',
    'maxProposalsPerRound',
    'maxConflictingVotesPerSlot',
  ] as const) {
    const v = l[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw consensusError(ConsensusErrorCode.INVALID_OPTIONS, `limits.${key}: expected an integer >= 1`, {
        field: `limits.${key}`,
      });
    }
  }
}
