import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MedLedgerError, VoteType, proposalSignBytes } from '@medledger/types';
import { generateKeyPair, Signer, verifySignature } from '@medledger/crypto';
import { GuardedSigner } from '../src/consensus/signer.js';
import { tempDir } from './fixtures.js';

test('after a restart the signer never signs a conflicting vote for a step it passed', (t) => {
  const key = new Signer(generateKeyPair().secretKey);
  const path = join(tempDir(t, 'guard'), 'last_sign_state.json');
  const a = new Uint8Array(32).fill(1);
  const b = new Uint8Array(32).fill(2);
  const first = new GuardedSigner('c', key, path);
  const vote = first.signVote({ type: VoteType.Prevote, height: 5, round: 1, blockHash: a });

  const restarted = new GuardedSigner('c', key, path);
  assert.deepEqual(
    restarted.signVote({ type: VoteType.Prevote, height: 5, round: 1, blockHash: a }).signature,
    vote.signature,
  );
  assert.throws(() => restarted.signVote({ type: VoteType.Prevote, height: 5, round: 1, blockHash: b }), /refusing/);
  assert.throws(() => restarted.signVote({ type: VoteType.Prevote, height: 5, round: 0, blockHash: a }), /refusing/);
  assert.throws(() => restarted.signVote({ type: VoteType.Prevote, height: 4, round: 9, blockHash: b }), /refusing/);
  restarted.signVote({ type: VoteType.Precommit, height: 5, round: 1, blockHash: a });
  assert.equal(new GuardedSigner('c', key, path).lastSigned?.step, 2);
});

test('after a restart the signer re-sends a proposal it signed, and refuses other bytes for it', (t) => {
  const key = new Signer(generateKeyPair().secretKey);
  const path = join(tempDir(t, 'guard'), 'last_sign_state.json');
  const block = new Uint8Array(32).fill(7);
  const proposal = new GuardedSigner('c', key, path).signProposal({
    height: 3,
    round: 2,
    polRound: -1,
    blockHash: block,
  });

  const restarted = new GuardedSigner('c', key, path);
  const again = restarted.signProposal({ height: 3, round: 2, polRound: -1, blockHash: block });
  assert.ok(verifySignature(key.publicKey, proposalSignBytes('c', again), again.signature));
  assert.deepEqual(again.signature, proposal.signature);
  // The same block with another POL round is another message: a stored signature would not
  // verify for it, and a new one would be a second proposal at the step.
  assert.throws(
    () => restarted.signProposal({ height: 3, round: 2, polRound: 1, blockHash: block }),
    (e: unknown) => e instanceof MedLedgerError && e.code === 'DOUBLE_SIGN_REFUSED',
  );
});
