import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sha256 } from '@medledger/crypto';
import { VoteType, ZERO_HASH, encodeBlock, type Block, type Proposal } from '@medledger/types';
import {
  decodeConsensusMessage,
  decodeGossipMessage,
  encodeCompactProposalMessage,
  encodeProposalMessage,
  encodeVoteMessage,
  gossipMessageHeight,
} from '../src/consensus/messages.js';

const header = {
  chainId: 'unit-chain',
  height: 7,
  round: 1,
  time: 1_700_000_000_000,
  prevHash: ZERO_HASH,
  txRoot: ZERO_HASH,
  appHash: ZERO_HASH,
  validatorsHash: ZERO_HASH,
  proposer: new Uint8Array(20).fill(1),
  lastCommitHash: ZERO_HASH,
};
const block: Block = { header, txs: [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])], lastCommit: null };
const proposal: Proposal = {
  height: 7,
  round: 1,
  polRound: -1,
  blockHash: sha256(new Uint8Array([9])),
  proposer: header.proposer,
  signature: new Uint8Array(64).fill(2),
};

test('a compact proposal carries the header, the parent commit and the tx hashes, not the txs', () => {
  const hashes = block.txs.map((t) => sha256(t));
  const bytes = encodeCompactProposalMessage(proposal, block, hashes);
  assert.ok(bytes.length < encodeProposalMessage(proposal, encodeBlock(block)).length + 64);
  const msg = decodeGossipMessage(bytes);
  assert.equal(msg.kind, 'compact-proposal');
  if (msg.kind !== 'compact-proposal') return;
  assert.deepEqual(msg.proposal, proposal);
  assert.deepEqual(msg.skeleton, { ...block, txs: [] });
  assert.deepEqual(msg.txHashes, hashes);
  // With a resend tag it decodes the same.
  assert.deepEqual(decodeGossipMessage(encodeCompactProposalMessage(proposal, block, hashes, 123)), msg);
  // The WAL and everything else take full messages only.
  assert.throws(() => decodeConsensusMessage(bytes), /gossip only/);
  const full = decodeGossipMessage(encodeProposalMessage(proposal, encodeBlock(block)));
  assert.equal(full.kind, 'proposal');
});

test('a compact proposal with a malformed hash list is refused', () => {
  const bad = encodeCompactProposalMessage(proposal, block, [new Uint8Array(31)]);
  assert.throws(() => decodeGossipMessage(bad));
});

test("a message's height is read without decoding its block", () => {
  const hashes = block.txs.map((t) => sha256(t));
  assert.equal(gossipMessageHeight(encodeCompactProposalMessage(proposal, block, hashes, 5)), 7);
  const vote = { type: VoteType.Prevote, height: 9, round: 0, blockHash: null, validator: header.proposer };
  assert.equal(gossipMessageHeight(encodeVoteMessage({ ...vote, signature: new Uint8Array(64) })), 9);
  // Block bytes that do not decode: the height still reads; the full decode refuses them.
  const junkBlock = encodeProposalMessage(proposal, new Uint8Array(4096).fill(0xff));
  assert.equal(gossipMessageHeight(junkBlock), 7);
  assert.throws(() => decodeGossipMessage(junkBlock));
  assert.throws(() => gossipMessageHeight(new Uint8Array([0x82, 0x09, 0x40])), /unknown consensus message kind/);
});
