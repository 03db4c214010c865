import { MedLedgerError, encodeCanonical, voteSignBytes, type Vote } from '@medledger/types';
import { sha256, type Signer } from '@medledger/crypto';
import { NodeErrorCode } from '../errors.js';

/*
 * TEST FAULT ONLY: a byzantine validator for the e2e fault tests (DESIGN §8, "a byzantine
 * validator that equivocates"). It is never on by default: the node turns it on only when its
 * config has `faults: true` (a test network) AND the environment sets
 * MEDLEDGER_BYZANTINE=equivocate; the variable without `faults` stops the node from starting.
 * It signs with the node key directly, around the double-sign guard: exactly what an honest
 * node must never do, so the honest nodes must detect it and commit the evidence.
 */

export const BYZANTINE_ENV = 'MEDLEDGER_BYZANTINE';

export const ByzantineMode = {
  /** Each vote is followed by a second, conflicting vote for the same height, round and type. */
  Equivocate: 'equivocate',
} as const;
export type ByzantineMode = (typeof ByzantineMode)[keyof typeof ByzantineMode];

/** The test fault named in the environment, or null; throws when it is asked for outside a test network. */
export function byzantineModeFrom(env: NodeJS.ProcessEnv, faults: boolean): ByzantineMode | null {
  const v = env[BYZANTINE_ENV];
  if (v === undefined || v === '') return null;
  if (!faults) {
    throw new MedLedgerError(
      NodeErrorCode.ConfigInvalid,
      `${BYZANTINE_ENV} is a test fault: it needs "faults": true in the node config (test networks only)`,
    );
  }
  if (v !== ByzantineMode.Equivocate) {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${BYZANTINE_ENV}: expected "${ByzantineMode.Equivocate}"`);
  }
  return v;
}

/** Signs conflicting votes with the raw node key (no guard, no last-sign state). */
export class Equivocator {
  constructor(
    private readonly chainId: string,
    private readonly signer: Signer,
  ) {}

  /** A vote for the same (height, round, type) as `vote` but another target: nil for a block, a made-up hash for nil. */
  conflictingVote(vote: Vote): Vote {
    const blockHash =
      vote.blockHash === null ? sha256(encodeCanonical(['medledger-equivocation', vote.height, vote.round])) : null;
    const unsigned = { type: vote.type, height: vote.height, round: vote.round, blockHash };
    return {
      ...unsigned,
      validator: this.signer.address,
      signature: this.signer.sign(voteSignBytes(this.chainId, unsigned)),
    };
  }
}
