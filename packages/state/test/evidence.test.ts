import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { toHex } from '@medledger/types';
import { TxCode } from '../src/index.js';
import { Chain, extraValidator, hospital, lab, signerFrom, signVote, voteAt } from './helpers.js';

describe('evidence.submit', () => {
  let chain: Chain;
  before(async () => (chain = await Chain.create()));
  after(() => chain.destroy());

  const submit = (voteA: Uint8Array, voteB: Uint8Array, signer = hospital.org) =>
    chain.run(signer, 'evidence.submit', { voteA, voteB });

  test('two signed votes for different blocks at one height, round and type are evidence', async () => {
    const a = signVote(lab.node, voteAt(5, 1));
    const b = signVote(lab.node, voteAt(5, 2));
    assert.equal(await submit(a, b), TxCode.Ok);
    assert.deepEqual(await chain.state.query.evidence(), {
      items: [{ validator: toHex(lab.node.address), height: 5, round: 0, type: 2, committedAt: chain.time }],
      next: null,
    });
  });

  test('the same equivocation is stored once, in either order and from any member', async () => {
    const a = signVote(lab.node, voteAt(5, 1));
    const b = signVote(lab.node, voteAt(5, 3));
    assert.equal(await submit(b, a, hospital.node), TxCode.AlreadyExists);
    assert.equal((await chain.state.query.evidence()).items.length, 1);
  });

  test('a vote for nil against a vote for a block is evidence; a prevote is told apart from a precommit', async () => {
    assert.equal(
      await submit(signVote(extraValidator, voteAt(6, null, 1)), signVote(extraValidator, voteAt(6, 4, 1))),
      TxCode.Ok,
    );
    assert.equal(
      await submit(signVote(extraValidator, voteAt(6, null, 2)), signVote(extraValidator, voteAt(6, 4, 2))),
      TxCode.Ok,
    );
    const all = (await chain.state.query.evidence()).items;
    assert.equal(all.length, 3);
    // Pages in key order (validator, height, round, type); the last page has no cursor.
    const first = await chain.state.query.evidence({ limit: 2 });
    assert.deepEqual(first.items, all.slice(0, 2));
    assert.ok(first.next);
    assert.deepEqual(await chain.state.query.evidence({ limit: 2, cursor: first.next }), {
      items: all.slice(2),
      next: null,
    });
    await assert.rejects(chain.state.query.evidence({ cursor: 'AQ' }), /cursor/);
  });

  test('votes that do not conflict are not evidence', async () => {
    const same = signVote(lab.node, voteAt(7, 1));
    assert.equal(await submit(same, signVote(lab.node, voteAt(7, 1))), TxCode.Invalid);
    assert.equal(
      await submit(signVote(lab.node, voteAt(7, null)), signVote(lab.node, voteAt(7, null))),
      TxCode.Invalid,
    );
    assert.equal(await submit(signVote(lab.node, voteAt(7, 1)), signVote(lab.node, voteAt(8, 2))), TxCode.Invalid);
    assert.equal(
      await submit(signVote(lab.node, voteAt(7, 1, 1)), signVote(lab.node, voteAt(7, 2, 2))),
      TxCode.Invalid,
    );
    assert.equal(
      await submit(signVote(lab.node, voteAt(7, 1, 2, 0)), signVote(lab.node, voteAt(7, 2, 2, 1))),
      TxCode.Invalid,
    );
    assert.equal(await submit(signVote(lab.node, voteAt(7, 1)), signVote(hospital.node, voteAt(7, 2))), TxCode.Invalid);
  });

  test('votes by a non-validator, with a bad signature, or malformed are refused', async () => {
    const stranger = signerFrom(600);
    assert.equal(await submit(signVote(stranger, voteAt(9, 1)), signVote(stranger, voteAt(9, 2))), TxCode.Invalid);
    const forged = signVote(lab.node, voteAt(9, 2), 'another-chain');
    assert.equal(await submit(signVote(lab.node, voteAt(9, 1)), forged), TxCode.Invalid);
    assert.equal(await submit(new Uint8Array([1, 2, 3]), signVote(lab.node, voteAt(9, 2))), TxCode.Invalid);
  });

  test('only member keys submit evidence', async () => {
    const a = signVote(lab.node, voteAt(10, 1));
    const b = signVote(lab.node, voteAt(10, 2));
    assert.equal(await submit(a, b, signerFrom(601)), TxCode.Unauthorized);
    assert.equal(await submit(a, b, lab.node), TxCode.Ok);
  });
});
