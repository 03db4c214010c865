import { bytesEqual } from '@medledger/types';
import type { LastSignState } from './interface.js';

/** What the node is about to sign: 0 proposal, 1 prevote, 2 precommit (the VoteType values). */
export interface SignRequest {
  height: number;
  round: number;
  step: 0 | 1 | 2;
  blockHash: Uint8Array | null;
}

export const SignDecision = { Sign: 'sign', Resign: 'resign', Refuse: 'refuse' } as const;
export type SignDecision = (typeof SignDecision)[keyof typeof SignDecision];

/**
 * The double-sign guard, the pure half (the node persists LastSignState and fsyncs it before a
 * message leaves). A validator signs at most one message per (height, round, step) and never
 * goes back in that order, so after a crash it cannot contradict something it already sent:
 * - before the last signed HRS: 'refuse' (we have passed that step);
 * - the same HRS with the same block hash: 'resign' (send the stored signature again; signing
 *   anew is harmless with deterministic ed25519, but re-sending proves nothing new was signed);
 * - the same HRS with another block hash (or nil vs a hash): 'refuse' — that is equivocation;
 * - after it: 'sign'.
 */
export function checkSign(last: LastSignState | null, next: SignRequest): SignDecision {
  if (last === null) return SignDecision.Sign;
  const order =
    next.height !== last.height
      ? next.height - last.height
      : next.round !== last.round
        ? next.round - last.round
        : next.step - last.step;
  if (order < 0) return SignDecision.Refuse;
  if (order > 0) return SignDecision.Sign;
  return sameHash(last.blockHash, next.blockHash) ? SignDecision.Resign : SignDecision.Refuse;
}

function sameHash(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return bytesEqual(a, b);
}
