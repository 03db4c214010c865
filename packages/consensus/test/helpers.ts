// Shared fixtures for the consensus tests: addresses, hashes, votes and proposals with fake
// signatures (the engine never checks signatures; the driver does).
import { VoteType, type Proposal, type Vote } from '@medledger/types';
import { defaultTimeoutParams, type EngineAction, type EngineOptions } from '../src/index.js';

/** A 20-byte address whose first byte is `i + 1`: sorted order is index order. */
export function addr(i: number): Uint8Array {
  const a = new Uint8Array(20);
  a[0] = i + 1;
  return a;
}

export function addrs(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => addr(i));
}

/** A 32-byte block hash named by a small number. */
export function hash(tag: number): Uint8Array {
  const h = new Uint8Array(32);
  h[0] = tag & 0xff;
  h[1] = (tag >> 8) & 0xff;
  h[31] = 0xaa;
  return h;
}

export const FAKE_SIG = new Uint8Array(64);

export function prevote(validator: number, height: number, round: number, blockHash: Uint8Array | null): Vote {
  return { type: VoteType.Prevote, height, round, blockHash, validator: addr(validator), signature: FAKE_SIG };
}

export function precommit(validator: number, height: number, round: number, blockHash: Uint8Array | null): Vote {
  return { type: VoteType.Precommit, height, round, blockHash, validator: addr(validator), signature: FAKE_SIG };
}

/** A proposal signed (fakely) by proposer(height, round) of `addrs(n)`. */
export function proposal(n: number, height: number, round: number, blockHash: Uint8Array, polRound = -1): Proposal {
  return { height, round, polRound, blockHash, proposer: addr((height + round) % n), signature: FAKE_SIG };
}

export function options(n: number, self: number | null): EngineOptions {
  return { validators: addrs(n), self: self === null ? null : addr(self), timeouts: { ...defaultTimeoutParams } };
}

export function kinds(actions: EngineAction[]): string[] {
  return actions.map((a) => a.kind);
}

export function votesIn(actions: EngineAction[]): Extract<EngineAction, { kind: 'vote' }>[] {
  return actions.filter((a): a is Extract<EngineAction, { kind: 'vote' }> => a.kind === 'vote');
}

/** The single vote action in `actions` (fails the test if there is not exactly one). */
export function onlyVote(actions: EngineAction[]): Extract<EngineAction, { kind: 'vote' }> {
  const votes = votesIn(actions);
  if (votes.length !== 1) throw new Error(`expected one vote action, got ${JSON.stringify(kinds(actions))}`);
  return votes[0]!;
}

export function find<K extends EngineAction['kind']>(
  actions: EngineAction[],
  kind: K,
): Extract<EngineAction, { kind: K }> | undefined {
  return actions.find((a): a is Extract<EngineAction, { kind: K }> => a.kind === kind);
}

/** Seeded PRNG (sfc32 seeded through splitmix32): tests are reproducible from the seed. */
export function createRng(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  return () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}
