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

/*
 * A message may carry a trailing resend tag (a uint, the sender's clock in ms): the driver
 * re-publishes its own signed messages of a stalled height, and gossipsub drops a message whose
 * bytes it has seen in the last 2 minutes (its id is a hash of the data), so a resend needs
 * different bytes. The tag is not signed and means nothing beyond that.
 */

export function encodeProposalMessage(proposal: Proposal, blockBytes: Uint8Array, resendTag?: number): Uint8Array {
  const parts: unknown[] = [KIND_PROPOSAL, encodeProposal(proposal), blockBytes];
  if (resendTag !== undefined) parts.push(resendTag);
  return encodeCanonical(parts);
}

export function encodeVoteMessage(vote: Vote, resendTag?: number): Uint8Array {
  const parts: unknown[] = [KIND_VOTE, encodeVote(vote)];
  if (resendTag !== undefined) parts.push(resendTag);
  return encodeCanonical(parts);
}

const isTag = (x: unknown) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

export function decodeConsensusMessage(bytes: Uint8Array): ConsensusMessage {
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length < 2) throw shapeError('consensus message', 'a list');
  const [kind, a, b, c] = v as [unknown, unknown, unknown, unknown];
  if (
    kind === KIND_PROPOSAL &&
    (v.length === 3 || (v.length === 4 && isTag(c))) &&
    a instanceof Uint8Array &&
    b instanceof Uint8Array
  ) {
    return { kind: 'proposal', proposal: decodeProposal(a), block: decodeBlock(b), blockBytes: b };
  }
  if (kind === KIND_VOTE && (v.length === 2 || (v.length === 3 && isTag(b))) && a instanceof Uint8Array) {
    return { kind: 'vote', vote: decodeVote(a) };
  }
  throw new MedLedgerError('INVALID_SHAPE', 'unknown consensus message kind');
}
