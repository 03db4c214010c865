import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  MedLedgerError,
  TxType,
  VoteType,
  encodeTx,
  toHex,
  voteSignBytes,
  type Block,
  type Commit,
} from '@medledger/types';
import type { WriteBatch } from '@medledger/db';
import { merkleRoot, sha256, signTx } from '@medledger/crypto';
import { blockHash } from '../src/chain/chain.js';
import { createLedger } from './fixtures.js';

const id = () => randomBytes(16).toString('hex');
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as MedLedgerError).message;
  }
  return 'accepted';
};

describe('chain: proposals, validation and commit certificates (4 validators)', () => {
  let ledger: Awaited<ReturnType<typeof createLedger>>;
  before(async () => {
    ledger = await createLedger({ validators: 4 });
  });
  after(() => ledger.close());

  const precommits = (h: number, round: number, hash: Uint8Array, signers = ledger.validators): Commit => ({
    height: h,
    round,
    blockHash: hash,
    signatures: signers.map((s) => ({
      validator: s.address,
      signature: s.sign(voteSignBytes('unit-chain', { type: VoteType.Precommit, height: h, round, blockHash: hash })),
    })),
  });

  const proposerAt = (height: number, round: number) => {
    const sorted = [...ledger.validators].sort((a, b) => Buffer.compare(a.address, b.address));
    return sorted[(height + round) % 4]!;
  };
  const proposerOf = (round: number) => proposerAt(1, round);

  test('a proposal built by the scheduled proposer validates; tampered copies do not', () => {
    const txs = [1, 2].map((nonce) =>
      signTx(ledger.org, {
        chainId: 'unit-chain',
        type: TxType.PatientRegister,
        nonce,
        payload: { patient: id(), account: null, encKey: null },
      }),
    );
    for (const t of txs) ledger.mempool.add(t.bytes);
    const built = ledger.chain.buildProposal(0, Date.now(), proposerOf(0).address, ledger.mempool.reap(10, 1 << 20));
    const now = Date.now();
    const mutate = (f: (b: Block) => Block) =>
      codeOf(() => ledger.chain.validateBlock(f(structuredClone(built.block)), now));
    assert.match(
      mutate((b) => ({ ...b, header: { ...b.header, proposer: proposerOf(1).address } })),
      /proposer/,
    );
    assert.match(
      mutate((b) => ({ ...b, txs: [b.txs[1]!, b.txs[0]!] })),
      /txRoot|fails/,
    );
    assert.match(
      mutate((b) => ({ ...b, header: { ...b.header, appHash: new Uint8Array(32) } })),
      /appHash/,
    );
    assert.match(
      mutate((b) => ({ ...b, header: { ...b.header, time: now + 60_000 } })),
      /ahead/,
    );
    const forgedTx = encodeTx({ ...txs[0]!.tx, signature: new Uint8Array(64).fill(9) });
    assert.match(
      mutate((b) => ({ ...b, txs: [forgedTx, b.txs[1]!] })),
      /bad signature|txRoot/,
    );
    assert.deepEqual(ledger.chain.validateBlock(built.block, now), built.hash);
  });

  test('a commit certificate needs 2f+1 distinct validators signing the block at its round', async () => {
    const built = ledger.chain.buildProposal(0, Date.now(), proposerOf(0).address, []);
    const hash = blockHash(built.block.header);
    const [a, b, c] = ledger.validators;
    assert.throws(() => ledger.chain.verifyCommit(precommits(1, 0, hash, [a!, b!]), 1), /needs 3/);
    const dup = precommits(1, 0, hash, [a!, b!]);
    dup.signatures.push(dup.signatures[0]!);
    assert.throws(() => ledger.chain.verifyCommit(dup, 1), /repeated/);
    const wrongRound = { ...precommits(1, 0, hash, [a!, b!, c!]), round: 1 };
    assert.throws(() => ledger.chain.verifyCommit(wrongRound, 1), /bad signature/);
    const good = precommits(1, 0, hash, [a!, b!, c!]);
    ledger.chain.verifyCommit(good, 1);
    const committed = await ledger.chain.commit(built.block, good);
    assert.equal(committed.height, 1);
    assert.deepEqual(ledger.blocks.getCommit(1)?.blockHash, hash);
    // The next proposal links to it and carries its certificate.
    const next = ledger.chain.buildProposal(0, Date.now(), ledger.validators[0]!.address, []);
    assert.deepEqual(next.block.header.prevHash, hash);
    assert.deepEqual(next.block.lastCommit?.blockHash, hash);
  });

  test('a tx committed once never commits again: left out of proposals, refused in a block', async () => {
    const tx = signTx(ledger.org, {
      chainId: 'unit-chain',
      type: TxType.PatientRegister,
      nonce: 50,
      payload: { patient: id(), account: null, encKey: null },
    });
    const height = ledger.chain.height + 1;
    const candidate = {
      tx: tx.tx,
      hash: sha256(tx.bytes),
      hashHex: toHex(sha256(tx.bytes)),
      bytes: tx.bytes,
      sender: toHex(ledger.org.address),
    };
    const built = ledger.chain.buildProposal(0, Date.now(), proposerAt(height, 0).address, [candidate]);
    assert.equal(built.block.txs.length, 1);
    await ledger.chain.commit(built.block, precommits(height, 0, built.hash));
    assert.equal(ledger.blocks.getTx(candidate.hash)?.height, height);

    // The block store keeps one location per tx hash without looking for an earlier one:
    // this is what makes that safe.
    const next = ledger.chain.buildProposal(0, Date.now(), proposerAt(height + 1, 0).address, [candidate]);
    assert.equal(next.block.txs.length, 0);
    const header = { ...next.block.header, txRoot: merkleRoot([candidate.hash]) };
    assert.match(
      codeOf(() => ledger.chain.validateBlock({ ...next.block, header, txs: [tx.bytes] }, Date.now())),
      /tx 0 fails: nonce/,
    );
    assert.equal(ledger.blocks.getTx(candidate.hash)?.height, height);
  });
});

describe('chain: the batches of executions that are not written', () => {
  test("are discarded: a failing block at once, other rounds' blocks when one is committed", async () => {
    const batches: WriteBatch[] = [];
    const ledger = await createLedger({ validators: 4, onBatch: (b) => batches.push(b) });
    batches.length = 0; // the genesis batch, written by init
    try {
      const sorted = [...ledger.validators].sort((a, b) => Buffer.compare(a.address, b.address));
      const register = (nonce: number, patient: string) =>
        signTx(ledger.org, {
          chainId: 'unit-chain',
          type: TxType.PatientRegister,
          nonce,
          payload: { patient, account: null, encKey: null },
        });
      const tx = register(1, id());
      ledger.mempool.add(tx.bytes);
      const round0 = ledger.chain.buildProposal(0, Date.now(), sorted[1]!.address, ledger.mempool.reap(10, 1 << 20));
      const round1 = ledger.chain.buildProposal(1, Date.now(), sorted[2]!.address, ledger.mempool.reap(10, 1 << 20));
      // The same patient registered twice: the second tx fails, so the block is invalid.
      const patient = id();
      const failing = [register(2, patient), register(3, patient)].map((t) => t.bytes);
      const header = { ...round0.block.header, txRoot: merkleRoot(failing.map((b) => sha256(b))) };
      assert.match(
        codeOf(() => ledger.chain.validateBlock({ ...round0.block, header, txs: failing }, Date.now())),
        /tx 1 fails/,
      );
      assert.equal(batches.length, 3);

      const signatures = ledger.validators.slice(0, 3).map((s) => ({
        validator: s.address,
        signature: s.sign(
          voteSignBytes('unit-chain', { type: VoteType.Precommit, height: 1, round: 1, blockHash: round1.hash }),
        ),
      }));
      await ledger.chain.commit(round1.block, { height: 1, round: 1, blockHash: round1.hash, signatures });

      const fate = batches.map((b) => {
        try {
          b.put(new Uint8Array([0xff]), new Uint8Array(0));
          return 'open';
        } catch (err) {
          return (err as Error).message;
        }
      });
      assert.deepEqual(fate, ['batch was discarded', 'batch was already written', 'batch was discarded']);
    } finally {
      await ledger.close();
    }
  });
});
