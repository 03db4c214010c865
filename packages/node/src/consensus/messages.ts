import {
  MedLedgerError,
  decodeBlock,
  decodeCanonical,
  decodeProposal,
  decodeVote,
  encodeCanonical,
  encodeProposal,
  encodeVote,
  shapeError,
  type Block,
  type Proposal,
  type Vote,
} from '@medledger/types';

/** What travels on the consensus topic and sits in the WAL. */
export type ConsensusMessage =
  { kind: 'proposal'; proposal: Proposal; block: Block; blockBytes: Uint8Array } | { kind: 'vote'; vote: Vote };

const KIND_PROPOSAL = 1;
const KIND_VOTE = 2;

export function encodeProposalMessage(proposal: Proposal, blockBytes: Uint8Array): Uint8Array {
  return encodeCanonical([KIND_PROPOSAL, encodeProposal(proposal), blockBytes]);
}

export function encodeVoteMessage(vote: Vote): Uint8Array {
  return encodeCanonical([KIND_VOTE, encodeVote(vote)]);
}

export function decodeConsensusMessage(bytes: Uint8Array): ConsensusMessage {
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length < 2) throw shapeError('consensus message', 'a list');
  const [kind, a, b] = v as [unknown, unknown, unknown];
  if (kind === KIND_PROPOSAL && v.length === 3 && a instanceof Uint8Array && b instanceof Uint8Array) {
    return { kind: 'proposal', proposal: decodeProposal(a), block: decodeBlock(b), blockBytes: b };
  }
  if (kind === KIND_VOTE && v.length === 2 && a instanceof Uint8Array) return { kind: 'vote', vote: decodeVote(a) };
  throw new MedLedgerError('INVALID_SHAPE', 'unknown consensus message kind');
}
