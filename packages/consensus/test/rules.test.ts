import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MedLedgerError } from '@medledger/types';
import {
  checkSign,
  ConsensusErrorCode,
  defaultTimeoutParams,
  maxFaulty,
  proposerFor,
  quorum,
  Step,
  timeoutFor,
  type LastSignState,
} from '../src/index.js';
import { addrs, createRng, hash } from './helpers.js';

test('quorum and f for n = 1..10', () => {
  const expected: [n: number, q: number, f: number][] = [
    [1, 1, 0],
    [2, 2, 0],
    [3, 3, 0],
    [4, 3, 1],
    [5, 4, 1],
    [6, 5, 1],
    [7, 5, 2],
    [8, 6, 2],
    [9, 7, 2],
    [10, 7, 3],
  ];
  for (const [n, q, f] of expected) {
    assert.equal(quorum(n), q, `quorum(${n})`);
    assert.equal(maxFaulty(n), f, `maxFaulty(${n})`);
    // Two quorums always share an honest validator: 2q - n >= f + 1.
    assert.ok(2 * q - n >= f + 1, `quorum intersection for n=${n}`);
    // f + 1 (the round-skip threshold) equals n - q + 1: it cannot be all faulty.
    assert.equal(f + 1, n - q + 1);
  }
  assert.throws(
    () => quorum(0),
    (e: unknown) => e instanceof MedLedgerError && e.code === ConsensusErrorCode.INVALID_ARGUMENT,
  );
});

test('proposer rotates by (h + r) mod n over addresses sorted bytewise, whatever the input order', () => {
  const sorted = addrs(4);
  const shuffled = [sorted[2]!, sorted[0]!, sorted[3]!, sorted[1]!];
  for (let h = 1; h <= 6; h++) {
    for (let r = 0; r <= 5; r++) {
      assert.deepEqual(proposerFor(shuffled, h, r), sorted[(h + r) % 4], `h=${h} r=${r}`);
    }
  }
  // Bytewise, not by length or numeric value: 0x01ff... sorts before 0x02.
  const a = new Uint8Array([1, 255]);
  const b = new Uint8Array([2]);
  assert.deepEqual(proposerFor([b, a], 0, 0), a);
  // Each validator proposes exactly once in n consecutive rounds.
  const seen = new Set<number>();
  for (let r = 0; r < 4; r++) seen.add(proposerFor(sorted, 7, r)[0]!);
  assert.equal(seen.size, 4);
  // Large heights and rounds stay exact.
  assert.deepEqual(
    proposerFor(sorted, Number.MAX_SAFE_INTEGER, 3),
    sorted[Number((BigInt(Number.MAX_SAFE_INTEGER) + 3n) % 4n)],
  );
});

test('timeouts grow linearly with the round and stop at the cap', () => {
  const p = defaultTimeoutParams;
  assert.equal(timeoutFor(Step.Propose, 0, p), 1000);
  assert.equal(timeoutFor(Step.Prevote, 0, p), 500);
  assert.equal(timeoutFor(Step.Precommit, 0, p), 500);
  assert.equal(timeoutFor(Step.Propose, 1, p), 1500);
  assert.equal(timeoutFor(Step.Prevote, 4, p), 2500);
  assert.equal(timeoutFor(Step.Propose, 18, p), 10_000);
  assert.equal(timeoutFor(Step.Propose, 19, p), 10_000);
  assert.equal(timeoutFor(Step.Precommit, 1_000_000, p), 10_000);
  for (let r = 1; r < 40; r++) {
    assert.ok(timeoutFor(Step.Propose, r, p) >= timeoutFor(Step.Propose, r - 1, p), 'never shrinks');
  }
  assert.throws(() => timeoutFor(Step.Propose, -1, p), MedLedgerError);
});

function last(height: number, round: number, step: 0 | 1 | 2, blockHash: Uint8Array | null): LastSignState {
  return { height, round, step, blockHash, signature: new Uint8Array(64).fill(7) };
}

test('double-sign guard: sign forward, re-send the same, refuse going back or changing the hash', () => {
  const v = hash(1);
  const w = hash(2);
  assert.equal(checkSign(null, { height: 1, round: 0, step: 0, blockHash: v }), 'sign');
  const l = last(5, 2, 1, v);
  // Forward in height, round or step.
  assert.equal(checkSign(l, { height: 6, round: 0, step: 0, blockHash: w }), 'sign');
  assert.equal(checkSign(l, { height: 5, round: 3, step: 0, blockHash: w }), 'sign');
  assert.equal(checkSign(l, { height: 5, round: 2, step: 2, blockHash: null }), 'sign');
  // Same HRS, same hash: re-send the stored signature.
  assert.equal(checkSign(l, { height: 5, round: 2, step: 1, blockHash: hash(1) }), 'resign');
  assert.equal(checkSign(last(5, 2, 1, null), { height: 5, round: 2, step: 1, blockHash: null }), 'resign');
  // Same HRS, another hash (or nil against a hash): equivocation.
  assert.equal(checkSign(l, { height: 5, round: 2, step: 1, blockHash: w }), 'refuse');
  assert.equal(checkSign(l, { height: 5, round: 2, step: 1, blockHash: null }), 'refuse');
  assert.equal(checkSign(last(5, 2, 1, null), { height: 5, round: 2, step: 1, blockHash: v }), 'refuse');
  // Backwards in step, round or height, even with the same hash.
  assert.equal(checkSign(l, { height: 5, round: 2, step: 0, blockHash: v }), 'refuse');
  assert.equal(checkSign(l, { height: 5, round: 1, step: 2, blockHash: v }), 'refuse');
  assert.equal(checkSign(l, { height: 4, round: 9, step: 2, blockHash: v }), 'refuse');
});

test('double-sign guard: a random walk of requests never yields two different signed hashes at one HRS', () => {
  const rng = createRng(42);
  let state: LastSignState | null = null;
  const signed = new Map<string, string>();
  for (let i = 0; i < 5000; i++) {
    const next = {
      height: 1 + Math.floor(i / 100) - Math.floor(rng() * 2),
      round: Math.floor(rng() * 3),
      step: Math.floor(rng() * 3) as 0 | 1 | 2,
      blockHash: rng() < 0.3 ? null : hash(Math.floor(rng() * 3)),
    };
    const key = `${next.height}/${next.round}/${next.step}`;
    const d = checkSign(state, next);
    const value = next.blockHash === null ? 'nil' : String(next.blockHash[0]);
    if (d === 'sign') {
      assert.ok(!signed.has(key), `signed ${key} twice`);
      signed.set(key, value);
      state = { ...next, signature: new Uint8Array(64) };
    } else if (d === 'resign') {
      assert.equal(signed.get(key), value);
    }
  }
  assert.ok(signed.size > 5);
});
