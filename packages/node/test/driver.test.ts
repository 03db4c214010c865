import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Signer, generateKeyPair, sha256 } from '@medledger/crypto';
import { createConsensusWal } from '@medledger/db';
import { createConsensusEngine, proposerFor, sortValidators } from '@medledger/consensus';
import {
  VoteType,
  ZERO_HASH,
  encodeBlock,
  encodeHeader,
  proposalSignBytes,
  toHex,
  voteSignBytes,
  type Block,
} from '@medledger/types';
import { ConsensusDriver, type ConsensusDriverModules } from '../src/consensus/driver.js';
import { GuardedSigner } from '../src/consensus/signer.js';
import {
  decodeConsensusMessage,
  encodeProposalMessage,
  encodeVoteMessage,
  type ConsensusMessage,
} from '../src/consensus/messages.js';
import { createMetrics } from '../src/metrics.js';
import { createLogger } from '../src/logger.js';

// The driver with the real engine, file WAL and guarded signer; the chain, network and mempool
// are stand-ins that hold no txs. Timeouts are long: only the messages below move the rounds.
const chainId = 'wal-chain';
const signers = Array.from({ length: 4 }, () => new Signer(generateKeyPair().secretKey));
const sorted = sortValidators(signers.map((s) => s.address));
const byAddress = new Map(signers.map((s) => [toHex(s.address), s]));
const validators = sorted.map((a, i) => {
  const s = byAddress.get(toHex(a))!;
  return { address: s.address, pubKey: s.publicKey, org: `org-${i}`, name: `v${i}` };
});
const self = byAddress.get(toHex(sorted[0]!))!;
const others = sorted.slice(1).map((a) => byAddress.get(toHex(a))!);
const params = {
  timeoutProposeMs: 100_000,
  timeoutPrevoteMs: 100_000,
  timeoutPrecommitMs: 100_000,
  timeoutDeltaMs: 0,
  timeoutCapMs: 100_000,
  maxBlockBytes: 1 << 20,
  minBlockIntervalMs: 0,
  emptyBlockIntervalMs: 0,
  createEmptyBlocks: true,
};

const hashOf = (b: Block) => sha256(encodeHeader(b.header));

function block(height: number, round: number, tag: number): Block {
  return {
    header: {
      chainId,
      height,
      round,
      time: 10 + height,
      prevHash: ZERO_HASH,
      txRoot: sha256(new Uint8Array([tag])),
      appHash: ZERO_HASH,
      validatorsHash: ZERO_HASH,
      proposer: proposerFor(sorted, height, round),
      lastCommitHash: ZERO_HASH,
    },
    txs: [],
    lastCommit: null,
  } as unknown as Block;
}

function proposal(b: Block, round: number): Uint8Array {
  const signer = byAddress.get(toHex(proposerFor(sorted, b.header.height, round)))!;
  assert.equal(toHex(b.header.proposer), toHex(signer.address));
  const p = { height: b.header.height, round, polRound: -1, blockHash: hashOf(b) };
  const signed = { ...p, proposer: signer.address, signature: signer.sign(proposalSignBytes(chainId, p)) };
  return encodeProposalMessage(signed, encodeBlock(b));
}

function vote(s: Signer, type: VoteType, height: number, round: number, blockHash: Uint8Array | null): Uint8Array {
  const v = { type, height, round, blockHash };
  return encodeVoteMessage({ ...v, validator: s.address, signature: s.sign(voteSignBytes(chainId, v)) });
}

/** A scratch directory removed when the test ends. */
function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'medledger-driver-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Block times may be this far ahead of a node's clock, as `Chain.validateBlock` allows. */
const MAX_CLOCK_DRIFT_MS = 10_000;

/** A node at `height` committed blocks, with its WAL and guard file in `dir`; `now` is its clock. */
async function node(dir: string, height: number, now = 1000) {
  const chain = {
    height,
    chainId,
    params,
    latestTime: 0,
    validatorsAt: () => validators,
    /** Blocks validated (each one executed, on a real node). */
    validated: 0,
    validateBlock(b: Block, clock: number | null) {
      this.validated++;
      if (b.header.height !== this.height + 1) throw new Error('wrong height');
      if (clock !== null && b.header.time > clock + MAX_CLOCK_DRIFT_MS) throw new Error('time is too far ahead');
      return hashOf(b);
    },
    async commit(b: Block) {
      this.height++;
      return { height: this.height, hash: hashOf(b), block: b, txs: [], txHashes: [], results: [] };
    },
    proposalTxLimit: () => 100,
  };
  const published: Uint8Array[] = [];
  let validate: (data: Uint8Array) => string = () => 'reject';
  let handle: (data: Uint8Array, from: string) => void = () => undefined;
  const network = {
    subscribe(_topic: string, v: typeof validate, h: typeof handle) {
      validate = v;
      handle = h;
    },
    async publish(_topic: string, data: Uint8Array) {
      published.push(data);
    },
    connectedPeers: () => [],
  };
  const mempool = { size: 1, get: () => undefined, reap: () => [], update: () => undefined, onTxsAvailable: () => {} };
  const engine = createConsensusEngine();
  const wal = createConsensusWal({ dir: join(dir, 'wal') });
  const modules = {
    engine,
    chain,
    mempool,
    network,
    wal,
    signer: new GuardedSigner(chainId, self, join(dir, 'last-sign.json')),
    logger: createLogger({ level: 'error', name: 'driver-test', stdout: false }),
    metrics: createMetrics(),
    now: () => now,
    catchUp: async () => undefined,
    onCommit: () => undefined,
    onEvidence: () => undefined,
  } as unknown as ConsensusDriverModules;
  const driver = new ConsensusDriver({ topic: 'consensus' }, modules);
  await driver.start();
  const deliver = (bytes: Uint8Array) => {
    assert.equal(validate(bytes), 'accept');
    handle(bytes, 'peer');
  };
  /** As gossip does: handled only if accepted. */
  const offer = (bytes: Uint8Array) => {
    const verdict = validate(bytes);
    if (verdict === 'accept') handle(bytes, 'peer');
    return verdict;
  };
  const ownVotes = () =>
    published
      .map((b) => decodeConsensusMessage(b))
      .flatMap((m) => (m.kind === 'vote' && toHex(m.vote.validator) === toHex(self.address) ? [m.vote] : []));
  const close = async () => {
    await driver.stop();
    wal.close();
  };
  return { driver, engine, chain, deliver, offer, ownVotes, wal, close };
}

test("a proposal that arrived a height early is in that height's WAL, and a restart keeps the lock on it", async (t) => {
  const dir = tempDir(t);
  const first = await node(dir, 0);
  const b1 = block(1, 0, 1);
  const v = block(2, 0, 2);
  first.deliver(proposal(v, 0)); // height 2's proposal, while the node is at height 1
  first.deliver(proposal(b1, 0));
  for (const s of others) first.deliver(vote(s, VoteType.Precommit, 1, 0, hashOf(b1)));
  await waitFor('height 2', () => first.driver.height === 2);
  // A polka for v: the node locks on v and precommits it.
  for (const s of others.slice(1)) first.deliver(vote(s, VoteType.Prevote, 2, 0, hashOf(v)));
  await waitFor('the lock on v', () => first.engine.lockedRound === 0);
  await waitFor('its precommit for v', () =>
    first.ownVotes().some((x) => x.height === 2 && x.type === VoteType.Precommit),
  );
  await first.driver.stop();
  const logged = [];
  for await (const e of first.wal.entries(2)) logged.push(decodeConsensusMessage(e));
  assert.ok(
    logged.some((m) => m.kind === 'proposal' && toHex(m.proposal.blockHash) === toHex(hashOf(v))),
    'the early proposal is in the WAL of height 2',
  );
  first.wal.close();

  // A crash, then a restart at the same height, its clock set back far enough that v's time is
  // now too far ahead: the WAL replay takes the lock again all the same.
  const second = await node(dir, 1, -MAX_CLOCK_DRIFT_MS);
  await waitFor('the WAL replayed', () => second.engine.height === 2 && second.engine.lockedRound === 0);
  assert.equal(toHex(second.engine.lockedValue!), toHex(hashOf(v)));
  // Round 1 brings another value; a node locked on v must not prevote it (Tendermint line 22).
  const v2 = block(2, 1, 3);
  for (const s of others.slice(1)) second.deliver(vote(s, VoteType.Prevote, 2, 1, null));
  second.deliver(proposal(v2, 1));
  await waitFor('its round-1 prevote', () =>
    second.ownVotes().some((x) => x.height === 2 && x.round === 1 && x.type === VoteType.Prevote),
  );
  const prevote = second.ownVotes().find((x) => x.round === 1 && x.type === VoteType.Prevote)!;
  assert.notEqual(prevote.blockHash && toHex(prevote.blockHash), toHex(hashOf(v2)));
  await second.close();
});

test('a WAL record that passed its checksum but is no consensus message fails the start', async (t) => {
  const dir = tempDir(t);
  const wal = createConsensusWal({ dir: join(dir, 'wal') });
  await wal.append(1, proposal(block(1, 0, 1), 0));
  await wal.append(1, Uint8Array.of(0xa0)); // canonical CBOR (an empty map), not a message
  wal.close();
  await assert.rejects(node(dir, 0), { code: 'WAL_CORRUPT' });
});

test("one proposer's proposals for many later rounds do not crowd out the next height's round 0", async (t) => {
  const dir = tempDir(t);
  const n = await node(dir, 0);
  // Height 2's proposer of rounds 1, 5, 9, … signs a proposal for each: more than the buffer.
  const flood = Array.from({ length: 40 }, (_, k) => 1 + 4 * k);
  for (const round of flood) n.offer(proposal(block(2, round, 100 + round), round));
  const v = block(2, 0, 2);
  n.deliver(proposal(v, 0));
  const b1 = block(1, 0, 1);
  n.deliver(proposal(b1, 0));
  for (const s of others) n.deliver(vote(s, VoteType.Precommit, 1, 0, hashOf(b1)));
  // At height 2 the early round-0 proposal is there: the node prevotes it at once.
  await waitFor('its prevote at height 2', () => n.ownVotes().some((x) => x.height === 2));
  const prevote = n.ownVotes().find((x) => x.height === 2)!;
  assert.equal(prevote.round, 0);
  assert.equal(toHex(prevote.blockHash!), toHex(hashOf(v)));
  await n.close();
});

test('votes signed for many rounds ahead stay out of the WAL; what a round skip acts on goes in before our vote', async (t) => {
  const dir = tempDir(t);
  const first = await node(dir, 0);
  const [a, b, flooder] = others as [Signer, Signer, Signer];
  // One validator signs prevotes for 300 rounds ahead and conflicting prevotes in round 0.
  for (let r = 1; r <= 300; r++) first.deliver(vote(flooder, VoteType.Prevote, 1, r, null));
  for (let k = 0; k < 20; k++) first.deliver(vote(flooder, VoteType.Prevote, 1, 0, sha256(new Uint8Array([k]))));
  // Round 5's proposal (from b, its proposer) and a's prevote there: f + 1 senders, a skip.
  const skipRound = 5;
  const v = block(1, skipRound, 5);
  assert.equal(toHex(v.header.proposer), toHex(b.address));
  first.deliver(proposal(v, skipRound));
  first.deliver(vote(a, VoteType.Prevote, 1, skipRound, null));
  await waitFor('its prevote in round 5', () => first.ownVotes().some((x) => x.round === skipRound));
  assert.equal(toHex(first.ownVotes().find((x) => x.round === skipRound)!.blockHash!), toHex(hashOf(v)));
  await first.driver.stop();

  const logged: ConsensusMessage[] = [];
  for await (const e of first.wal.entries(1)) logged.push(decodeConsensusMessage(e));
  first.wal.close();
  const from = (s: Signer) =>
    logged.filter((m) => toHex(m.kind === 'vote' ? m.vote.validator : m.proposal.proposer) === toHex(s.address));
  // The first round-0 prevote and the 3 conflicting ones the engine keeps as evidence.
  assert.equal(from(flooder).length, 4);
  assert.ok(from(flooder).every((m) => m.kind === 'vote' && m.vote.round === 0));
  const at = (pred: (m: ConsensusMessage) => boolean) => logged.findIndex(pred);
  const own = at((m) => m.kind === 'vote' && toHex(m.vote.validator) === toHex(self.address));
  assert.ok(own >= 0, 'our prevote is in the WAL');
  assert.ok(at((m) => m.kind === 'proposal' && m.proposal.round === skipRound) < own, 'the proposal precedes it');
  assert.ok(
    at((m) => m.kind === 'vote' && toHex(m.vote.validator) === toHex(a.address)) < own,
    "a's prevote precedes it",
  );

  // A restart replays the WAL into round 5 again.
  const second = await node(dir, 0);
  await waitFor('the WAL replayed', () => second.engine.round === skipRound);
  await second.close();
});

test('one proposer signing many proposals gets a bounded number of them validated, per round and ahead', async (t) => {
  const dir = tempDir(t);
  const n = await node(dir, 0);
  const [proposer, a, b] = others as [Signer, Signer, Signer];
  // `proposer` proposes in rounds 0, 4, 8, … of height 1. It signs 50 blocks for round 0 and
  // one for each of 50 later rounds of its own.
  assert.equal(toHex(proposerFor(sorted, 1, 0)), toHex(proposer.address));
  const verdicts = [
    ...Array.from({ length: 50 }, (_, k) => n.offer(proposal(block(1, 0, k), 0))),
    ...Array.from({ length: 50 }, (_, k) => n.offer(proposal(block(1, 4 * (k + 1), 101 + k), 4 * (k + 1)))),
  ];
  // Those past the bound are not forwarded either.
  assert.equal(verdicts.filter((x) => x === 'accept').length, 12);
  assert.equal(verdicts.filter((x) => x === 'ignore').length, 88);
  await waitFor('its prevote in round 0', () => n.ownVotes().some((x) => x.round === 0));
  assert.equal(toHex(n.ownVotes()[0]!.blockHash!), toHex(hashOf(block(1, 0, 0))), 'the first one');
  // 4 for round 0, and 8 for the rounds ahead (4 … 32).
  assert.equal(n.chain.validated, 12);

  // A proposal for a height outside the window is ignored before its block is decoded.
  const far = { height: 50, round: 0, polRound: -1, blockHash: sha256(new Uint8Array([1])) };
  const signed = { ...far, proposer: proposer.address, signature: proposer.sign(proposalSignBytes(chainId, far)) };
  assert.equal(n.offer(encodeProposalMessage(signed, new Uint8Array(4096).fill(0xff))), 'ignore');

  // Round 36 is one more ahead: refused. Skipped to round 20, the rounds up to it no longer
  // count as ahead (24, 28 and 32 still do), and round 36 is taken.
  const r36 = proposal(block(1, 36, 200), 36);
  assert.equal(n.offer(r36), 'ignore');
  for (const s of [a, b]) n.deliver(vote(s, VoteType.Prevote, 1, 20, null));
  await waitFor('round 20', () => n.engine.round === 20);
  assert.equal(n.chain.validated, 12);
  n.deliver(r36);
  await waitFor('round 36 validated', () => n.chain.validated === 13);
  await n.close();
});
