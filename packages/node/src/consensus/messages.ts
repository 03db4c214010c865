import {
  HASH_BYTES,
  MedLedgerError,
  assertArray,
  assertBytes,
  decodeBlock,
  decodeCanonical,
  decodeProposal,
  decodeVote,
  encodeBlock,
  encodeCanonical,
  encodeProposal,
  encodeVote,
  shapeError,
  TypesErrorCode,
  type Block,
  type Proposal,
  type Vote,
} from '@medledger/types';

/** What travels on the consensus topic and sits in the WAL. */
export type ConsensusMessage =
  { kind: 'proposal'; proposal: Proposal; block: Block; blockBytes: Uint8Array } | { kind: 'vote'; vote: Vote };

const KIND_PROPOSAL = 1;
const KIND_VOTE = 2;
const KIND_COMPACT_PROPOSAL = 3;
const MAX_BLOCK_TXS = 100_000;

/**
 * A proposal that names its txs by hash (ADR 0008): header and parent commit travel as a block
 * with no txs, then the tx hashes in block order. Receivers rebuild the block from their mempool
 * and fetch what they miss from the proposer. Only gossip carries this form; the WAL keeps the
 * full proposal, so a restart never depends on a mempool.
 */
export interface CompactProposalMessage {
  kind: 'compact-proposal';
  proposal: Proposal;
  /** Header and lastCommit, with `txs` empty. */
  skeleton: Block;
  txHashes: Uint8Array[];
}

export function encodeCompactProposalMessage(
  proposal: Proposal,
  block: Block,
  txHashes: Uint8Array[],
  resendTag?: number,
): Uint8Array {
  const skeleton = encodeBlock({ header: block.header, txs: [], lastCommit: block.lastCommit });
  const parts: unknown[] = [KIND_COMPACT_PROPOSAL, encodeProposal(proposal), skeleton, txHashes];
  if (resendTag !== undefined) parts.push(resendTag);
  return encodeCanonical(parts);
}

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
  const msg = decodeGossipMessage(bytes);
  if (msg.kind === 'compact-proposal')
    throw new MedLedgerError(TypesErrorCode.INVALID_SHAPE, 'a compact proposal is gossip only');
  return msg;
}

/**
 * The height a gossip message is for, read without decoding its block: a message outside the
 * window a node accepts costs it only this.
 */
export function gossipMessageHeight(bytes: Uint8Array): number {
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length < 2 || !(v[1] instanceof Uint8Array)) {
    throw shapeError('consensus message', 'a list');
  }
  if (v[0] === KIND_VOTE) return decodeVote(v[1]).height;
  if (v[0] === KIND_PROPOSAL || v[0] === KIND_COMPACT_PROPOSAL) return decodeProposal(v[1]).height;
  throw new MedLedgerError(TypesErrorCode.INVALID_SHAPE, 'unknown consensus message kind');
}

/** What arrives on the consensus topic: a full message or a compact proposal. */
export function decodeGossipMessage(bytes: Uint8Array): ConsensusMessage | CompactProposalMessage {
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length < 2) throw shapeError('consensus message', 'a list');
  if (v[0] === KIND_COMPACT_PROPOSAL && (v.length === 4 || (v.length === 5 && isTag(v[4])))) {
    const [, a, b, c] = v as [unknown, unknown, unknown, unknown];
    if (!(a instanceof Uint8Array) || !(b instanceof Uint8Array)) throw shapeError('compact proposal', 'bytes');
    const skeleton = decodeBlock(b);
    if (skeleton.txs.length !== 0) throw shapeError('compact proposal', 'a block without txs');
    const txHashes = assertArray(c, 'compact proposal hashes', MAX_BLOCK_TXS).map((h, i) =>
      assertBytes(h, `compact proposal hashes[${i}]`, HASH_BYTES),
    );
    return { kind: 'compact-proposal', proposal: decodeProposal(a), skeleton, txHashes };
  }
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
  throw new MedLedgerError(TypesErrorCode.INVALID_SHAPE, 'unknown consensus message kind');
}
