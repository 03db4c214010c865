import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MedLedgerError, TxType, encodeTx } from '@medledger/types';
import { signTx, type Signer } from '@medledger/crypto';
import { createLedger } from './fixtures.js';

const id = () => randomBytes(16).toString('hex');
const register = (signer: Signer, nonce: number, opts: { chainId?: string; patient?: string } = {}) =>
  signTx(signer, {
    chainId: opts.chainId ?? 'unit-chain',
    type: TxType.PatientRegister,
    nonce,
    payload: { patient: opts.patient ?? id(), account: null, encKey: null },
  });
const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as MedLedgerError).code;
  }
  return 'accepted';
};
type Ledger = Awaited<ReturnType<typeof createLedger>>;
const nonces = (l: Ledger, max = 100) => l.mempool.reap(max, 1 << 20).map((t) => t.tx.nonce);

/** Runs `body` on a new ledger and closes it (removing its directory) whether or not it passes. */
async function withLedger(opts: Parameters<typeof createLedger>[0], body: (l: Ledger) => Promise<void> | void) {
  const l = await createLedger(opts);
  try {
    await body(l);
  } finally {
    await l.close();
  }
}

test('mempool takes a tx once, and refuses forged signatures, pending nonces and other chains', () =>
  withLedger({}, async (l) => {
    const tx = register(l.org, 1);
    assert.equal(l.mempool.add(tx.bytes), l.mempool.add(tx.bytes));
    assert.equal(l.mempool.size, 1);
    const forged = encodeTx({ ...register(l.org, 2).tx, signature: new Uint8Array(64) });
    assert.equal(
      codeOf(() => l.mempool.add(forged)),
      'BAD_SIGNATURE',
    );
    assert.equal(
      codeOf(() => l.mempool.add(register(l.org, 1).bytes)),
      'BAD_NONCE',
    );
    assert.equal(
      codeOf(() => l.mempool.add(register(l.org, 9, { chainId: 'other-chain' }).bytes)),
      'WRONG_CHAIN',
    );
  }));

test('mempool reaps each account in nonce order even when txs arrived out of order', () =>
  withLedger({}, async (l) => {
    for (const n of [5, 3, 4]) l.mempool.add(register(l.org, n).bytes);
    l.mempool.add(register(l.otherOrg, 1).bytes);
    assert.deepEqual(nonces(l), [3, 4, 5, 1]);
    assert.deepEqual(nonces(l, 2), [3, 4]);
  }));

test('mempool limits pending txs per account (the rate limit in place of fees)', () =>
  withLedger({ maxPerAccount: 3 }, async (l) => {
    for (const n of [1, 2, 3]) l.mempool.add(register(l.org, n).bytes);
    assert.equal(
      codeOf(() => l.mempool.add(register(l.org, 4).bytes)),
      'RATE_LIMITED',
    );
    assert.equal(
      codeOf(() => l.mempool.add(register(l.otherOrg, 1).bytes)),
      'accepted',
    );
  }));

test('after a commit the included txs leave and txs the block made invalid are dropped', () =>
  withLedger({}, async (l) => {
    const patient = id();
    l.mempool.add(register(l.org, 1, { patient }).bytes);
    // Hospital B registers the same pseudonym: valid now, impossible once A's tx is committed.
    l.mempool.add(register(l.otherOrg, 1, { patient }).bytes);
    l.mempool.add(register(l.otherOrg, 2).bytes);
    const proposal = l.chain.buildProposal(0, Date.now(), l.validators[0]!.address, l.mempool.reap(1, 1 << 20));
    const hash = l.chain.validateBlock(proposal.block, Date.now());
    // The chain trusts its caller (consensus or sync) to have checked the certificate.
    const committed = await l.chain.commit(proposal.block, { height: 1, round: 0, blockHash: hash, signatures: [] });
    l.mempool.update(committed.txHashes);
    assert.deepEqual(nonces(l), [2]);
  }));

test('after a commit an account whose nonce moved past its pending txs loses them', () =>
  withLedger({}, async (l) => {
    // Nonce 5 is committed (as if through another node's mempool): pending 2..4 are stale.
    const pending = [2, 3, 4, 6].map((n) => l.mempool.add(register(l.org, n).bytes));
    const dropped: { hash: string; code: number; log: string }[] = [];
    l.mempool.onDropped((hash, r) => dropped.push({ hash, ...r }));
    const five = register(l.org, 5);
    const proposal = l.chain.buildProposal(0, Date.now(), l.validators[0]!.address, [
      { tx: five.tx, hash: Buffer.from(five.hash, 'hex'), hashHex: five.hash, bytes: five.bytes, sender: '' },
    ]);
    const hash = l.chain.validateBlock(proposal.block, Date.now());
    const committed = await l.chain.commit(proposal.block, { height: 1, round: 0, blockHash: hash, signatures: [] });
    l.mempool.update(committed.txHashes);
    assert.deepEqual(nonces(l), [6]);
    // Each stale tx is reported with the rule it broke (a `?wait=commit` caller hears it at once).
    assert.deepEqual(
      dropped.map((d) => d.hash),
      pending.slice(0, 3).map((e) => e.hashHex),
    );
    for (const d of dropped) {
      assert.notEqual(d.code, 0);
      assert.match(d.log, /nonce/);
    }
  }));

test('txs a proposal could not execute are evicted; peers get more room than clients', () =>
  withLedger({ maxTxs: 2 }, async (l) => {
    const a = register(l.org, 1);
    l.mempool.add(a.bytes);
    l.mempool.add(register(l.org, 2).bytes);
    assert.equal(
      codeOf(() => l.mempool.add(register(l.org, 3).bytes)),
      'MEMPOOL_FULL',
    );
    assert.equal(
      codeOf(() => l.mempool.add(register(l.org, 3).bytes, 'peer')),
      'accepted',
    );
    l.mempool.evict([{ hashHex: a.hash, code: 3, log: 'failed in a proposal' }]);
    assert.deepEqual(nonces(l), [2, 3]);
  }));
