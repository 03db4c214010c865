import { decodeCanonical, encodeCanonical } from './encoding.js';
import { shapeError } from './errors.js';
import { ADDRESS_BYTES, HASH_BYTES } from './block.js';
import { assertBytes, assertInt, assertUint } from './validate.js';

export const VoteType = { Prevote: 1, Precommit: 2 } as const;
export type VoteType = (typeof VoteType)[keyof typeof VoteType];

export interface Vote {
  type: VoteType;
  height: number;
  round: number;
  /** The block voted for; null is a vote for nil. */
  blockHash: Uint8Array | null;
  validator: Uint8Array;
  signature: Uint8Array;
}

export type UnsignedVote = Omit<Vote, 'signature'>;

export function voteSignBytes(chainId: string, v: Omit<UnsignedVote, 'validator'>): Uint8Array {
  return encodeCanonical(['medledger/vote/1', chainId, v.type, v.height, v.round, v.blockHash]);
}

export function encodeVote(v: Vote): Uint8Array {
  return encodeCanonical([v.type, v.height, v.round, v.blockHash, v.validator, v.signature]);
}

export function decodeVote(bytes: Uint8Array): Vote {
  return voteFromFields(decodeCanonical(bytes));
}

export function voteFromFields(v: unknown): Vote {
  if (!Array.isArray(v) || v.length !== 6) throw shapeError('vote', 'a list of 6 fields');
  const type = assertInt(v[0], 'vote.type', 1, 2) as VoteType;
  return {
    type,
    height: assertInt(v[1], 'vote.height', 1, Number.MAX_SAFE_INTEGER),
    round: assertUint(v[2], 'vote.round'),
    blockHash: v[3] === null ? null : assertBytes(v[3], 'vote.blockHash', HASH_BYTES),
    validator: assertBytes(v[4], 'vote.validator', ADDRESS_BYTES),
    signature: assertBytes(v[5], 'vote.signature', 64),
  };
}

/** A proposal binds a block hash to (height, round) and an optional proof-of-lock round. */
export interface Proposal {
  height: number;
  round: number;
  /** The round of the polka this value was locked in, or -1. */
  polRound: number;
  blockHash: Uint8Array;
  proposer: Uint8Array;
  signature: Uint8Array;
}

export function proposalSignBytes(chainId: string, p: Omit<Proposal, 'signature' | 'proposer'>): Uint8Array {
  return encodeCanonical(['medledger/proposal/1', chainId, p.height, p.round, p.polRound, p.blockHash]);
}

export function encodeProposal(p: Proposal): Uint8Array {
  return encodeCanonical([p.height, p.round, p.polRound, p.blockHash, p.proposer, p.signature]);
}

export function decodeProposal(bytes: Uint8Array): Proposal {
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length !== 6) throw shapeError('proposal', 'a list of 6 fields');
  return {
    height: assertInt(v[0], 'proposal.height', 1, Number.MAX_SAFE_INTEGER),
    round: assertUint(v[1], 'proposal.round'),
    polRound: assertInt(v[2], 'proposal.polRound', -1, Number.MAX_SAFE_INTEGER),
    blockHash: assertBytes(v[3], 'proposal.blockHash', HASH_BYTES),
    proposer: assertBytes(v[4], 'proposal.proposer', ADDRESS_BYTES),
    signature: assertBytes(v[5], 'proposal.signature', 64),
  };
}
