import { compareBytes } from '@medledger/types';
import { consensusError, ConsensusErrorCode } from './errors.js';
import { Step, type TimeoutParams } from './interface.js';

function assertValidatorCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw consensusError(ConsensusErrorCode.INVALID_ARGUMENT, `validator count must be an integer >= 1, got ${n}`, {
      n,
    });
  }
}

/** Votes needed for a polka or a commit: q = floor(2n/3) + 1, i.e. more than two thirds. */
export function quorum(n: number): number {
  assertValidatorCount(n);
  return Math.floor((2 * n) / 3) + 1;
}

/**
 * Faulty validators tolerated: f = floor((n - 1) / 3). f + 1 (= ceil(n/3) = n - q + 1) messages
 * always include one from an honest validator; that is the round-skip threshold (line 55).
 */
export function maxFaulty(n: number): number {
  assertValidatorCount(n);
  return Math.floor((n - 1) / 3);
}

/** A sorted copy (bytewise by address): the order proposer rotation uses. */
export function sortValidators(validators: readonly Uint8Array[]): Uint8Array[] {
  return [...validators].sort(compareBytes);
}

/** proposer(h, r): validators sorted by address, index (h + r) mod n (DESIGN §4). */
export function proposerFor(validators: readonly Uint8Array[], height: number, round: number): Uint8Array {
  assertValidatorCount(validators.length);
  return proposerInSorted(sortValidators(validators), height, round);
}

/** proposerFor over an already-sorted list: the engine sorts once per height. */
export function proposerInSorted(sorted: readonly Uint8Array[], height: number, round: number): Uint8Array {
  if (!Number.isSafeInteger(height) || height < 0 || !Number.isSafeInteger(round) || round < 0) {
    throw consensusError(ConsensusErrorCode.INVALID_ARGUMENT, 'height and round must be integers >= 0', {
      height,
      round,
    });
  }
  // (h mod n + r mod n) mod n: the same index as (h + r) mod n without leaving the safe integers.
  const n = sorted.length;
  return sorted[((height % n) + (round % n)) % n]!;
}

/**
 * timeout(step, round) = min(base(step) + round * delta, cap). Linear, not doubling: with
 * exponential timers one long partition leaves validators waiting minutes or hours per round
 * after it heals (Besu's QBFT), while the paper only needs timeouts to grow without bound
 * relative to the message delay, which a linear ramp gives up to the cap.
 */
export function timeoutFor(step: Step, round: number, params: TimeoutParams): number {
  if (!Number.isSafeInteger(round) || round < 0) {
    throw consensusError(ConsensusErrorCode.INVALID_ARGUMENT, `round must be an integer >= 0, got ${round}`, { round });
  }
  const base = step === Step.Propose ? params.proposeMs : step === Step.Prevote ? params.prevoteMs : params.precommitMs;
  return Math.min(base + round * params.deltaMs, params.capMs);
}
