import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { VoteType } from '@medledger/types';
import { generateKeyPair, Signer } from '@medledger/crypto';
import { GuardedSigner } from '../src/consensus/signer.js';
import { tempDir } from './fixtures.js';

test('after a restart the signer never signs a conflicting vote for a step it passed', () => {
  const key = new Signer(generateKeyPair().secretKey);
  const path = join(tempDir('guard'), 'last_sign_state.json');
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
