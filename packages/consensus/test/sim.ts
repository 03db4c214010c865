// A deterministic network simulation for the consensus engine: N engines, a virtual clock, a
// priority queue of events (deliveries, timeouts, height starts, sync responses), and a network
// that before GST delays arbitrarily (so it reorders) and drops messages, and after GST delivers
// everything within a bound. Everything random comes from one seeded PRNG: a seed reproduces a run.
//
// The model follows the paper's assumptions (section II): partial synchrony with gossip. A lost
// message is not gone for good: at GST every correct node relays what it holds for its current
// height (the gossip layer's retransmission), and a node that learns from `behind` that it lags
// fetches the commit certificate of its height from a peer (the driver's block sync), which the
// engine turns into a decision through its own decision rule.
import { sha256, Signer, verifySignature } from '@medledger/crypto';
import {
  bytesEqual,
  toHex,
  VoteType,
  proposalSignBytes,
  voteSignBytes,
  type Proposal,
  type Vote,
} from '@medledger/types';
import {
  checkSign,
  createConsensusEngine,
  defaultTimeoutParams,
  quorum,
  type EngineAction,
  type LastSignState,
  type Step,
  type TendermintEngine,
  type TimeoutParams,
} from '../src/index.js';
import { createRng } from './helpers.js';

export const Behaviour = {
  Honest: 'honest',
  /** Never sends anything (down from the start). */
  Silent: 'silent',
  /** Honest until the first time it must propose at or after `crashHeight`; then it is gone. */
  CrashProposer: 'crash-proposer',
  /** Votes as its engine says, but as proposer sends two different blocks to two halves. */
  EquivocateProposer: 'equivocate-proposer',
  /** Every prevote and precommit is sent twice, for two different values, to everyone. */
  DoubleVote: 'double-vote',
  /** Equivocates as proposer and tells each peer, in every vote, what that peer was proposed. */
  Omniscient: 'omniscient',
  /**
   * The attack locks exist for: prevote whatever was proposed to all honest nodes but one (a
   * polka forms for some, the one left out stays unlocked), precommit it to one honest node
   * only (that one decides, the others do not), and as proposer always offer a fresh block
   * without POL. An engine that forgets its lock then decides a second value.
   */
  LockBreaker: 'lock-breaker',
} as const;
export type Behaviour = (typeof Behaviour)[keyof typeof Behaviour];

export interface SimConfig {
  n: number;
  heights: number;
  seed: number;
  /** Virtual ms. */
  gst: number;
  preGstMaxDelay: number;
  preGstLoss: number;
  postGstMaxDelay: number;
  /** Probability that a proposal reaches a node before its block (onProposal(p, undefined) first). */
  lateBlock: number;
  behaviours?: Record<number, Behaviour>;
  crashHeight?: number;
  timeouts?: TimeoutParams;
  realSignatures?: boolean;
  /** Give up (and report a liveness failure) at this virtual time. */
  maxTime: number;
  /**
   * An adversarial network (still within partial synchrony: it delays, it does not lose): before
   * GST, gossip relays, what a correct node sends for a height after it decided that height, and
   * in half the rounds the proposal to one correct node are held back until GST. The others cannot learn a decision from the decider and must rely on their locks;
   * that is what gives a lock bug a chance to show up as two decisions.
   */
  adversarialNetwork?: boolean;
  /** Debugging: called with every engine input and output. */
  trace?: (line: string) => void;
}

export interface SimResult {
  /** Safety violations and broken invariants: must be empty. */
  violations: string[];
  /** Honest nodes that did not decide every height in time: must be empty. */
  livenessFailures: string[];
  /** Worst time from max(GST, last honest decision of h - 1) to the last honest decision of h. */
  maxHeightLatencyAfterGst: number;
  decisions: number;
  deliveries: number;
  maxRound: number;
  endTime: number;
  /** Evidence actions emitted by honest nodes, by accused validator index. */
  evidenceAgainst: Map<number, number>;
  /** Honest nodes that emitted at least one evidence action. */
  nodesWithEvidence: Set<number>;
  syncs: number;
}

type Msg = { kind: 'proposal'; p: Proposal } | { kind: 'vote'; v: Vote };

type Event =
  | { kind: 'msg'; to: number; msg: Msg }
  | { kind: 'block'; to: number; p: Proposal }
  | { kind: 'timeout'; to: number; step: Step; height: number; round: number }
  | { kind: 'start'; to: number; height: number }
  | { kind: 'sync'; to: number; height: number; blockHash: Uint8Array; votes: Vote[] }
  | { kind: 'gst' };

interface Queued {
  t: number;
  seq: number;
  ev: Event;
}

/** A binary min-heap on (t, seq): equal times run in insertion order, so runs are deterministic. */
class EventQueue {
  readonly #heap: Queued[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(t: number, ev: Event): void {
    const h = this.#heap;
    h.push({ t, seq: this.#seq++, ev });
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  pop(): Queued | undefined {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l]!, h[m]!)) m = l;
        if (r < h.length && less(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function less(a: Queued, b: Queued): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

interface SimNode {
  i: number;
  address: Uint8Array;
  signer: Signer | null;
  engine: TendermintEngine;
  behaviour: Behaviour;
  crashed: boolean;
  last: LastSignState | null;
  decisions: Map<number, { hash: string; t: number }>;
  certs: Map<number, Vote[]>;
  /** Messages sent or received, by height: what this node relays at GST. */
  log: Map<number, Msg[]>;
  /** Proposal hashes received, by `${height}/${round}`, first first. */
  received: Map<string, Uint8Array[]>;
  /** Messages already forwarded (gossip relays each distinct message once), by height. */
  relayed: Map<number, Set<string>>;
  /** Catch-up certificates sent, by `${peer}/${height}/${afterGst}`. */
  catchUp: Set<string>;
  /** Heights it decided before GST: the adversarial network holds back what it sends for them. */
  isolated: Set<number>;
}

const CHAIN_ID = 'sim-chain';

export function runSimulation(cfg: SimConfig): SimResult {
  const rng = createRng(cfg.seed);
  const timeouts = cfg.timeouts ?? { ...defaultTimeoutParams };
  const q = quorum(cfg.n);
  const queue = new EventQueue();
  const invalidBlocks = new Set<string>();

  const signers = Array.from({ length: cfg.n }, (_, i) =>
    cfg.realSignatures ? new Signer(sha256(`sim validator ${i}`)) : null,
  );
  const addresses = signers.map((s, i) => s?.address ?? sha256(`sim address ${i}`).subarray(0, 20));
  const indexOf = new Map(addresses.map((a, i) => [toHex(a), i]));
  const publicKeys = signers.map((s) => s?.publicKey ?? null);

  const nodes: SimNode[] = addresses.map((address, i) => ({
    i,
    address,
    signer: signers[i]!,
    engine: createConsensusEngine(),
    behaviour: cfg.behaviours?.[i] ?? Behaviour.Honest,
    crashed: false,
    last: null,
    decisions: new Map(),
    certs: new Map(),
    log: new Map(),
    received: new Map(),
    relayed: new Map(),
    catchUp: new Set(),
    isolated: new Set(),
  }));
  const correct = (n: SimNode): boolean => n.behaviour === Behaviour.Honest || n.behaviour === Behaviour.CrashProposer;
  const honest = nodes.filter((n) => n.behaviour === Behaviour.Honest);

  const result: SimResult = {
    violations: [],
    livenessFailures: [],
    maxHeightLatencyAfterGst: 0,
    decisions: 0,
    deliveries: 0,
    maxRound: 0,
    endTime: 0,
    evidenceAgainst: new Map(),
    nodesWithEvidence: new Set(),
    syncs: 0,
  };
  const agreed = new Map<number, string>();
  let now = 0;

  const delay = (): number =>
    now < cfg.gst ? rng() * cfg.preGstMaxDelay : 1 + rng() * Math.max(0, cfg.postGstMaxDelay - 1);

  let sender: SimNode | null = null;

  /** In half the rounds, the adversarial network keeps the proposal from one correct node. */
  function victimOf(height: number, round: number): number | null {
    const r = createRng(cfg.seed ^ (height * 131071 + round * 8191));
    return r() < 0.5 ? honest[Math.floor(r() * honest.length)]!.i : null;
  }

  function send(to: number, msg: Msg, relay = false): void {
    const h = msg.kind === 'proposal' ? msg.p.height : msg.v.height;
    const heldBack =
      relay || sender?.isolated.has(h) || (msg.kind === 'proposal' && victimOf(msg.p.height, msg.p.round) === to);
    if (now < cfg.gst && cfg.adversarialNetwork && heldBack) {
      queue.push(cfg.gst + 1 + rng() * Math.max(0, cfg.postGstMaxDelay - 1), { kind: 'msg', to, msg });
      return;
    }
    if (now < cfg.gst && rng() < cfg.preGstLoss) return;
    queue.push(now + delay(), { kind: 'msg', to, msg });
  }

  function logMsg(node: SimNode, msg: Msg): void {
    const h = msg.kind === 'proposal' ? msg.p.height : msg.v.height;
    let list = node.log.get(h);
    if (!list) node.log.set(h, (list = []));
    list.push(msg);
  }

  /** Sends to every other node and delivers to itself at once (the driver feeds its own messages back). */
  function broadcast(from: SimNode, msg: Msg): void {
    firstSight(from, msg);
    for (const n of nodes) if (n !== from) send(n.i, msg);
    queue.push(now, { kind: 'msg', to: from.i, msg });
  }

  /** True the first time `node` sees this message: gossip forwards it then, and only then. */
  function firstSight(node: SimNode, msg: Msg): boolean {
    const h = msg.kind === 'proposal' ? msg.p.height : msg.v.height;
    const key =
      msg.kind === 'proposal'
        ? `p/${msg.p.round}/${msg.p.polRound}/${toHex(msg.p.blockHash)}/${toHex(msg.p.proposer)}`
        : `v/${msg.v.type}/${msg.v.round}/${msg.v.blockHash ? toHex(msg.v.blockHash) : 'nil'}/${toHex(msg.v.validator)}`;
    let seen = node.relayed.get(h);
    if (!seen) node.relayed.set(h, (seen = new Set()));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }

  function sign(node: SimNode, bytes: Uint8Array): Uint8Array {
    return node.signer ? node.signer.sign(bytes) : new Uint8Array(64).fill(node.i + 1);
  }

  /** The node's double-sign guard: an honest engine must never make it refuse or re-send. */
  function guard(node: SimNode, height: number, round: number, step: 0 | 1 | 2, blockHash: Uint8Array | null): void {
    if (!correct(node)) return;
    const d = checkSign(node.last, { height, round, step, blockHash });
    if (d !== 'sign') {
      result.violations.push(`node ${node.i}: guard said ${d} for h=${height} r=${round} step=${step}`);
    }
    node.last = { height, round, step, blockHash, signature: new Uint8Array(64) };
  }

  function makeVote(node: SimNode, type: VoteType, height: number, round: number, blockHash: Uint8Array | null): Vote {
    const signature = sign(node, voteSignBytes(CHAIN_ID, { type, height, round, blockHash }));
    return { type, height, round, blockHash, validator: node.address, signature };
  }

  function makeProposal(
    node: SimNode,
    height: number,
    round: number,
    polRound: number,
    blockHash: Uint8Array,
  ): Proposal {
    const signature = sign(node, proposalSignBytes(CHAIN_ID, { height, round, polRound, blockHash }));
    return { height, round, polRound, blockHash, proposer: node.address, signature };
  }

  /** A fresh block: its hash is built from (height, round, proposer) and a tag. */
  function block(height: number, round: number, node: SimNode, tag = ''): Uint8Array {
    return sha256(`block h=${height} r=${round} p=${node.i}${tag}`);
  }

  function otherHalves(node: SimNode): [number[], number[]] {
    const others = nodes.filter((n) => n !== node).map((n) => n.i);
    for (let k = others.length - 1; k > 0; k--) {
      const j = Math.floor(rng() * (k + 1));
      [others[k], others[j]] = [others[j]!, others[k]!];
    }
    const cut = Math.floor(others.length / 2);
    return [others.slice(0, cut), others.slice(cut)];
  }

  function propose(node: SimNode, a: Extract<EngineAction, { kind: 'propose' }>): void {
    const hashA = a.validValue ?? block(a.height, a.round, node);
    const polRound = a.validValue ? a.validRound : -1;
    const pA = makeProposal(node, a.height, a.round, polRound, hashA);
    if (node.behaviour === Behaviour.LockBreaker) {
      const fresh = makeProposal(node, a.height, a.round, -1, block(a.height, a.round, node, '/fresh'));
      broadcast(node, { kind: 'proposal', p: fresh });
      return;
    }
    if (node.behaviour === Behaviour.EquivocateProposer || node.behaviour === Behaviour.Omniscient) {
      // Two halves see two different proposals; the second block is sometimes invalid.
      const hashB = block(a.height, a.round, node, '/B');
      if (rng() < 0.3) invalidBlocks.add(toHex(hashB));
      const pB = makeProposal(node, a.height, a.round, -1, hashB);
      const [one, two] = otherHalves(node);
      for (const j of one) send(j, { kind: 'proposal', p: pA });
      for (const j of two) send(j, { kind: 'proposal', p: pB });
      queue.push(now, { kind: 'msg', to: node.i, msg: { kind: 'proposal', p: pA } });
      return;
    }
    guard(node, a.height, a.round, 0, hashA);
    broadcast(node, { kind: 'proposal', p: pA });
  }

  function vote(node: SimNode, a: Extract<EngineAction, { kind: 'vote' }>): void {
    const own = makeVote(node, a.type, a.height, a.round, a.blockHash);
    if (node.behaviour === Behaviour.DoubleVote) {
      // The second value: another proposal seen for this round, else a made-up block or nil.
      const seen = node.received.get(`${a.height}/${a.round}`) ?? [];
      const other =
        seen.find((h) => a.blockHash === null || !bytesEqual(h, a.blockHash)) ??
        (a.blockHash === null ? block(a.height, a.round, node, '/dv') : null);
      const twin = makeVote(node, a.type, a.height, a.round, other);
      for (const n of nodes) {
        if (n === node) continue;
        send(n.i, { kind: 'vote', v: own });
        send(n.i, { kind: 'vote', v: twin });
      }
      queue.push(now, { kind: 'msg', to: node.i, msg: { kind: 'vote', v: own } });
      return;
    }
    if (node.behaviour === Behaviour.LockBreaker) {
      // Per round: one honest node is left out of the polka (it stays unlocked), and one of
      // the others is the only one to get the precommit that completes a decision.
      const proposed = honest.map((n) => n.received.get(`${a.height}/${a.round}`)?.[0]).find((h) => h !== undefined);
      const value = proposed ?? a.blockHash;
      const r = createRng(cfg.seed ^ (a.height * 7919 + a.round * 104729));
      // Leave out a node that has not got the proposal (it times out and stays unlocked): the
      // one the network keeps it from, if any.
      const victim = cfg.adversarialNetwork && now < cfg.gst ? victimOf(a.height, a.round) : null;
      const excluded = victim !== null ? nodes[victim] : honest.find((n) => !n.received.has(`${a.height}/${a.round}`));
      const rest = honest.filter((n) => n !== excluded);
      const decider = rest[Math.floor(r() * rest.length)];
      for (const n of nodes) {
        if (n === node) continue;
        const target = (a.type === VoteType.Prevote ? n !== excluded : n === decider) ? value : null;
        send(n.i, { kind: 'vote', v: makeVote(node, a.type, a.height, a.round, target) });
      }
      // It keeps its own engine from counting its precommits, so the engine does not decide and
      // leave the height: the attack goes on in the next round.
      if (a.type === VoteType.Prevote) queue.push(now, { kind: 'msg', to: node.i, msg: { kind: 'vote', v: own } });
      return;
    }
    if (node.behaviour === Behaviour.Omniscient) {
      // Each peer gets a vote for the first proposal it received in this round (or ours).
      for (const n of nodes) {
        if (n === node) continue;
        const theirs = n.received.get(`${a.height}/${a.round}`)?.[0] ?? a.blockHash;
        send(n.i, { kind: 'vote', v: makeVote(node, a.type, a.height, a.round, theirs) });
      }
      queue.push(now, { kind: 'msg', to: node.i, msg: { kind: 'vote', v: own } });
      return;
    }
    guard(node, a.height, a.round, a.type, a.blockHash);
    broadcast(node, { kind: 'vote', v: own });
  }

  function checkCertificate(node: SimNode, a: Extract<EngineAction, { kind: 'decide' }>): void {
    const seen = new Set<string>();
    for (const pc of a.precommits) {
      const who = toHex(pc.validator);
      const ok =
        pc.type === VoteType.Precommit &&
        pc.height === a.height &&
        pc.round === a.round &&
        pc.blockHash !== null &&
        bytesEqual(pc.blockHash, a.blockHash) &&
        indexOf.has(who) &&
        !seen.has(who);
      if (!ok) result.violations.push(`node ${node.i}: bad precommit in the certificate of height ${a.height}`);
      seen.add(who);
      const pk = publicKeys[indexOf.get(who) ?? -1];
      if (pk && !verifySignature(pk, voteSignBytes(CHAIN_ID, pc), pc.signature)) {
        result.violations.push(`node ${node.i}: certificate signature does not verify at height ${a.height}`);
      }
    }
    if (seen.size < q) result.violations.push(`node ${node.i}: certificate of ${seen.size} < ${q} at h=${a.height}`);
  }

  function decide(node: SimNode, a: Extract<EngineAction, { kind: 'decide' }>): void {
    checkCertificate(node, a);
    const hash = toHex(a.blockHash);
    if (node.decisions.has(a.height)) result.violations.push(`node ${node.i}: decided height ${a.height} twice`);
    node.decisions.set(a.height, { hash, t: now });
    if (cfg.adversarialNetwork && correct(node) && now < cfg.gst) node.isolated.add(a.height);
    node.certs.set(a.height, a.precommits);
    if (correct(node)) {
      result.decisions++;
      const prior = agreed.get(a.height);
      if (prior === undefined) agreed.set(a.height, hash);
      else if (prior !== hash) {
        result.violations.push(`SAFETY: height ${a.height}: node ${node.i} decided ${hash}, another ${prior}`);
      }
      if (invalidBlocks.has(hash)) result.violations.push(`node ${node.i}: decided an invalid block at ${a.height}`);
    }
    // No timeout_commit: the driver starts the next height at once.
    queue.push(now, { kind: 'start', to: node.i, height: a.height + 1 });
  }

  function evidence(node: SimNode, a: Extract<EngineAction, { kind: 'evidence' }>): void {
    const { voteA, voteB } = a;
    const accused = indexOf.get(toHex(voteA.validator)) ?? -1;
    const conflict =
      bytesEqual(voteA.validator, voteB.validator) &&
      voteA.type === voteB.type &&
      voteA.height === voteB.height &&
      voteA.round === voteB.round &&
      !(voteA.blockHash === null
        ? voteB.blockHash === null
        : voteB.blockHash !== null && bytesEqual(voteA.blockHash, voteB.blockHash));
    if (!conflict) result.violations.push(`node ${node.i}: evidence that is no conflict`);
    if (accused < 0 || correct(nodes[accused]!)) {
      result.violations.push(`node ${node.i}: evidence against correct validator ${accused}`);
    }
    if (correct(node)) {
      result.evidenceAgainst.set(accused, (result.evidenceAgainst.get(accused) ?? 0) + 1);
      result.nodesWithEvidence.add(node.i);
    }
  }

  function behind(node: SimNode): void {
    // Block sync: fetch the block of our height and its commit certificate from a correct peer.
    const h = node.engine.height;
    const peer = nodes.find((n) => correct(n) && n.certs.has(h));
    if (!peer) return;
    const votes = peer.certs.get(h)!;
    queue.push(now + delay(), { kind: 'sync', to: node.i, height: h, blockHash: votes[0]!.blockHash!, votes });
  }

  /**
   * The driver commits a synced block itself after checking its certificate; it does not feed
   * the precommits to the engine, which may rightly refuse one of them (a validator whose other,
   * conflicting precommit it counted first). Then it starts the next height.
   */
  function synced(node: SimNode, ev: Extract<Event, { kind: 'sync' }>): void {
    if (node.engine.height !== ev.height || node.decisions.has(ev.height)) return;
    result.syncs++;
    const a = {
      kind: 'decide',
      height: ev.height,
      round: ev.votes[0]!.round,
      blockHash: ev.blockHash,
      precommits: ev.votes,
    } as const;
    if (cfg.trace) cfg.trace(`t=${Math.round(now)} node ${node.i} -> SYNCED h=${ev.height} ${short(ev.blockHash)}`);
    decide(node, a);
  }

  function apply(node: SimNode, actions: EngineAction[]): void {
    result.maxRound = Math.max(result.maxRound, node.engine.round);
    if (cfg.trace) {
      for (const a of actions) cfg.trace(`t=${Math.round(now)} node ${node.i} -> ${describe(a)}`);
    }
    for (const a of actions) {
      if (node.crashed) return;
      switch (a.kind) {
        case 'propose':
          if (node.behaviour === Behaviour.CrashProposer && a.height >= (cfg.crashHeight ?? 1)) {
            node.crashed = true;
            return;
          }
          propose(node, a);
          break;
        case 'vote':
          vote(node, a);
          break;
        case 'schedule-timeout':
          queue.push(now + a.durationMs, {
            kind: 'timeout',
            to: node.i,
            step: a.step,
            height: a.height,
            round: a.round,
          });
          break;
        case 'decide':
          decide(node, a);
          break;
        case 'evidence':
          evidence(node, a);
          break;
        case 'behind':
          behind(node);
          break;
      }
    }
  }

  /**
   * A peer that sends messages for a height we have decided is behind: send it our commit
   * certificate for that height (CometBFT's LastCommit gossip), once per peer and height (and
   * once more after GST, when it is sure to arrive). Without it a validator that lost the
   * precommits before GST waits forever when fewer than f+1 others are ahead (no `behind`).
   */
  function catchUp(node: SimNode, msg: Msg): void {
    const h = msg.kind === 'proposal' ? msg.p.height : msg.v.height;
    const cert = node.certs.get(h);
    if (!correct(node) || h >= node.engine.height || !cert) return;
    const peer = indexOf.get(toHex(msg.kind === 'proposal' ? msg.p.proposer : msg.v.validator));
    if (peer === undefined || peer === node.i) return;
    const key = `${peer}/${h}/${now >= cfg.gst}`;
    if (node.catchUp.has(key)) return;
    node.catchUp.add(key);
    for (const v of cert) send(peer, { kind: 'vote', v }, true);
  }

  function deliver(node: SimNode, msg: Msg): void {
    logMsg(node, msg);
    catchUp(node, msg);
    // Gossip: a correct node forwards what it receives (for its height or above), once.
    const h = msg.kind === 'proposal' ? msg.p.height : msg.v.height;
    if (correct(node) && h >= node.engine.height && firstSight(node, msg)) {
      for (const n of nodes) if (n !== node) send(n.i, msg, true);
    }
    if (msg.kind === 'vote') {
      apply(node, node.engine.onVote(msg.v));
      return;
    }
    const p = msg.p;
    const key = `${p.height}/${p.round}`;
    const list = node.received.get(key) ?? [];
    if (!list.some((h) => bytesEqual(h, p.blockHash))) list.push(p.blockHash);
    node.received.set(key, list);
    const valid = !invalidBlocks.has(toHex(p.blockHash));
    if (!bytesEqual(p.proposer, node.address) && rng() < cfg.lateBlock) {
      // The proposal arrived before its block: the driver asks for the block meanwhile.
      apply(node, node.engine.onProposal(p, undefined));
      queue.push(now + delay(), { kind: 'block', to: node.i, p });
    } else {
      apply(node, node.engine.onProposal(p, valid));
    }
  }

  function verified(msg: Msg): boolean {
    if (!cfg.realSignatures) return true;
    if (msg.kind === 'vote') {
      const pk = publicKeys[indexOf.get(toHex(msg.v.validator)) ?? -1];
      return !!pk && verifySignature(pk, voteSignBytes(CHAIN_ID, msg.v), msg.v.signature);
    }
    const pk = publicKeys[indexOf.get(toHex(msg.p.proposer)) ?? -1];
    return !!pk && verifySignature(pk, proposalSignBytes(CHAIN_ID, msg.p), msg.p.signature);
  }

  const allDone = (): boolean => honest.every((n) => n.decisions.size >= cfg.heights);

  for (const n of nodes) if (n.behaviour !== Behaviour.Silent) queue.push(0, { kind: 'start', to: n.i, height: 1 });
  queue.push(cfg.gst, { kind: 'gst' });

  while (queue.size > 0 && !allDone()) {
    const { t, ev } = queue.pop()!;
    if (t > cfg.maxTime) break;
    now = t;
    if (ev.kind === 'gst') {
      // Gossip retransmission: every correct node relays what it holds for its current height.
      for (const n of nodes) {
        if (!correct(n) || n.crashed) continue;
        for (const [h, msgs] of n.log) {
          if (h < n.engine.height) continue;
          for (const m of msgs) for (const o of nodes) if (o !== n) send(o.i, m);
        }
      }
      continue;
    }
    const node = nodes[ev.to]!;
    if (node.crashed || node.behaviour === Behaviour.Silent) continue;
    sender = node;
    if (cfg.trace) {
      const e = node.engine;
      cfg.trace(`t=${Math.round(now)} node ${node.i} [h=${e.height} r=${e.round} ${e.step}] <- ${describeEvent(ev)}`);
    }
    switch (ev.kind) {
      case 'start':
        if (node.engine.height < ev.height) {
          for (const h of node.log.keys()) if (h < ev.height) node.log.delete(h);
          for (const h of node.relayed.keys()) if (h < ev.height) node.relayed.delete(h);
          apply(node, node.engine.startHeight(ev.height, { validators: addresses, self: node.address, timeouts }));
        }
        break;
      case 'msg':
        result.deliveries++;
        if (!verified(ev.msg)) {
          result.violations.push(`node ${node.i}: a message failed signature verification`);
          break;
        }
        deliver(node, ev.msg);
        break;
      case 'block':
        apply(node, node.engine.onProposal(ev.p, !invalidBlocks.has(toHex(ev.p.blockHash))));
        break;
      case 'timeout':
        apply(node, node.engine.onTimeout(ev.step, ev.height, ev.round));
        break;
      case 'sync':
        synced(node, ev);
        break;
    }
  }
  result.endTime = now;

  // Liveness: every honest node decided every height, within the bound after GST.
  let prev = 0;
  for (let h = 1; h <= cfg.heights; h++) {
    let last = 0;
    for (const n of honest) {
      const d = n.decisions.get(h);
      if (!d) {
        result.livenessFailures.push(`node ${n.i} did not decide height ${h} by t=${now}`);
        continue;
      }
      last = Math.max(last, d.t);
    }
    result.maxHeightLatencyAfterGst = Math.max(result.maxHeightLatencyAfterGst, last - Math.max(cfg.gst, prev));
    prev = last;
  }
  return result;
}

function short(h: Uint8Array | null): string {
  return h === null ? 'nil' : toHex(h).slice(0, 6);
}

function describe(a: EngineAction): string {
  switch (a.kind) {
    case 'propose':
      return `propose h=${a.height} r=${a.round} vr=${a.validRound} vv=${short(a.validValue)}`;
    case 'vote':
      return `vote ${a.type === VoteType.Prevote ? 'prevote' : 'precommit'} h=${a.height} r=${a.round} ${short(a.blockHash)}`;
    case 'schedule-timeout':
      return `timeout ${a.step} h=${a.height} r=${a.round} in ${a.durationMs}`;
    case 'decide':
      return `DECIDE h=${a.height} r=${a.round} ${short(a.blockHash)}`;
    case 'evidence':
      return `evidence against ${short(a.voteA.validator)}`;
    case 'behind':
      return `behind ${a.height}`;
  }
}

function describeEvent(ev: Event): string {
  switch (ev.kind) {
    case 'msg': {
      const m = ev.msg;
      if (m.kind === 'proposal')
        return `proposal h=${m.p.height} r=${m.p.round} vr=${m.p.polRound} ${short(m.p.blockHash)}`;
      const v = m.v;
      return `${v.type === VoteType.Prevote ? 'prevote' : 'precommit'} from ${short(v.validator)} h=${v.height} r=${v.round} ${short(v.blockHash)}`;
    }
    case 'block':
      return `block ${short(ev.p.blockHash)}`;
    case 'timeout':
      return `timeout ${ev.step} h=${ev.height} r=${ev.round}`;
    case 'start':
      return `start ${ev.height}`;
    case 'sync':
      return `sync h=${ev.height} ${short(ev.blockHash)}`;
    case 'gst':
      return 'gst';
  }
}
