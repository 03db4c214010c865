import type { Proposal, Vote, VoteType } from '@medledger/types';

/**
 * Tendermint (Buchman, Kwon, Milosevic 2018, Algorithm 1) as a pure state machine. The engine
 * never touches sockets, disks, clocks or keys: the driver (in @medledger/node) feeds it
 * verified inputs and carries out the actions it returns, in order. The engine deals in block
 * hashes; whether a proposed block is valid is decided by the driver and passed in.
 */
export const Step = { Propose: 'propose', Prevote: 'prevote', Precommit: 'precommit' } as const;
export type Step = (typeof Step)[keyof typeof Step];

export interface TimeoutParams {
  proposeMs: number;
  prevoteMs: number;
  precommitMs: number;
  /** Added per round: linear growth. */
  deltaMs: number;
  capMs: number;
}

export interface EngineOptions {
  /** Validator addresses in force at this height (any order; the engine sorts them). */
  validators: Uint8Array[];
  /** This node's validator address, or null for a non-validator that only follows. */
  self: Uint8Array | null;
  timeouts: TimeoutParams;
}

export type EngineAction =
  /** It is our turn: propose `validValue` if set (with polRound = validRound), else ask the driver to build a block. */
  | { kind: 'propose'; height: number; round: number; validRound: number; validValue: Uint8Array | null }
  /** Sign this vote (through the double-sign guard) and broadcast it; then feed the signed vote back in. */
  | { kind: 'vote'; type: VoteType; height: number; round: number; blockHash: Uint8Array | null }
  | { kind: 'schedule-timeout'; step: Step; height: number; round: number; durationMs: number }
  /** A block was decided: 2f+1 precommits for it in `round`. `precommits` are the signed votes (the commit certificate). */
  | { kind: 'decide'; height: number; round: number; blockHash: Uint8Array; precommits: Vote[] }
  /** Two conflicting votes from one validator at one (height, round, type). */
  | { kind: 'evidence'; voteA: Vote; voteB: Vote }
  /** Messages from a higher round or height were seen; the driver may want to catch up (sync). */
  | { kind: 'behind'; height: number };

export interface ConsensusEngine {
  readonly height: number;
  readonly round: number;
  readonly step: Step;
  /** Enter `height` at round 0. Messages for this height received earlier are replayed. */
  startHeight(height: number, opts: EngineOptions): EngineAction[];
  /**
   * A proposal whose signature and proposer the driver has checked. `valid` is the driver's
   * verdict on the block behind `proposal.blockHash` (undefined while the block is not yet known).
   */
  onProposal(proposal: Proposal, valid: boolean | undefined): EngineAction[];
  /** A vote whose signature the driver has checked. */
  onVote(vote: Vote): EngineAction[];
  onTimeout(step: Step, height: number, round: number): EngineAction[];
  /**
   * Whether the last onProposal or onVote stored its message (for this height or the next).
   * A message the engine dropped (a duplicate, over a bound, not from a member) can change
   * nothing on a replay, so the driver leaves it out of the WAL.
   */
  readonly inputKept: boolean;
  /**
   * Whether the engine still holds what `validator` sent for `round` of the current height:
   * always for rounds up to the current one; for later rounds, while they are among the
   * highest few kept per validator (EngineLimits.maxFutureRoundsPerValidator).
   */
  holds(validator: Uint8Array, round: number): boolean;
  /** Read-only view of who voted in a round of the current height (default: the current round). */
  roundVoters?(round?: number): RoundVoters;
}

/** Hex validator addresses that sent a proposal, prevotes and precommits in one round. */
export interface RoundVoters {
  height: number;
  round: number;
  /** The validator set of the height. */
  validators: string[];
  proposal: boolean;
  prevotes: string[];
  precommits: string[];
}

/** Persisted record of the last thing this validator signed (fsynced before it leaves the node). */
export interface LastSignState {
  height: number;
  round: number;
  /** 0 propose, 1 prevote, 2 precommit: the order Tendermint steps happen in. */
  step: 0 | 1 | 2;
  blockHash: Uint8Array | null;
  signature: Uint8Array;
}
