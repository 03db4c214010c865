import {
  MedLedgerError,
  VoteType,
  assertArray,
  assertBytes,
  assertUint,
  decodeCanonical,
  encodeBlock,
  encodeCanonical,
  bytesEqual,
  proposalSignBytes,
  toHex,
  voteSignBytes,
  type Block,
  type Proposal,
  type Vote,
} from '@medledger/types';
import { sha256, verifySignature } from '@medledger/crypto';
import type { ConsensusWal } from '@medledger/db';
import {
  proposerFor,
  timeoutParamsFromChain,
  type ConsensusEngine,
  type EngineAction,
  type Step,
} from '@medledger/consensus';
import type { Validator } from '@medledger/state';
import { GossipVerdict, peerIdFromNodePublicKey, type NetworkService } from '@medledger/network';
import { blockHash as blockHashOf, type Chain, type CommittedBlock } from '../chain/chain.js';
import type { MempoolTx, MempoolView } from '../mempool/interface.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { GuardedSigner } from './signer.js';
import type { Equivocator } from './byzantine.js';
import { NodeErrorCode } from '../errors.js';
import {
  decodeConsensusMessage,
  decodeGossipMessage,
  encodeCompactProposalMessage,
  encodeProposalMessage,
  encodeVoteMessage,
  gossipMessageHeight,
  type CompactProposalMessage,
  type ConsensusMessage,
} from './messages.js';

export interface ConsensusDriverModules {
  engine: ConsensusEngine;
  chain: Chain;
  mempool: MempoolView;
  /** Whether a pending tx may go into this node's proposal yet (e.g. its peers hold it already). */
  proposable?: (tx: MempoolTx) => boolean;
  network: NetworkService;
  wal: ConsensusWal;
  /** Null on a node that follows without voting. */
  signer: GuardedSigner | null;
  logger: Logger;
  metrics: Metrics;
  /** The only clock consensus sees: block times and the empty-block pacing come from here. */
  now: () => number;
  /** Called when the node must catch up through block sync; resolves when it is done. */
  catchUp: (reason: string) => Promise<void>;
  onCommit: (committed: CommittedBlock) => void;
  onEvidence: (voteA: Vote, voteB: Vote) => void;
  /** TEST FAULT (byzantine.ts): set only on a test network told to equivocate. */
  equivocator?: Equivocator | null;
}

/** Per-validator liveness numbers for the operator view. */
export interface ValidatorActivity {
  lastProposedHeight: number;
  lastSignedHeight: number;
  missedProposals: number;
  /** Heights of a set it was in for which this node received none of its votes (judged one height late). */
  missedBlocks: number;
}

const MAX_FUTURE_PROPOSALS = 32;
/** Distinct proposals handled per round: more means the proposer equivocates (the engine keeps as many). */
const MAX_PROPOSALS_PER_ROUND = 4;
/** Distinct proposals handled per proposer for the rounds of a height this node has not reached. */
const MAX_PROPOSALS_AHEAD = 8;
/** Tick of the resend check (see #resendTick). */
const RESEND_TICK_MS = 500;
/** Ticks without progress at a height before this node's own messages are sent again. */
const STALL_TICKS = 2;
/** Own messages of one height resent per tick: the latest ones (3 per round at most). */
const MAX_RESEND = 32;

type ProposalMessage = Extract<ConsensusMessage, { kind: 'proposal' }>;

interface UnloggedMessage {
  height: number;
  round: number;
  sender: Uint8Array;
  raw: Uint8Array;
}

/** A message for h + 1 that the engine cannot keep yet, with its bytes for the WAL. */
interface EarlyMessage<M extends ConsensusMessage = ConsensusMessage> {
  msg: M;
  raw: Uint8Array | null;
}

/** A consensus message replayed from the WAL, with its bytes. */
interface WalEntry {
  msg: ConsensusMessage;
  raw: Uint8Array;
}

/**
 * A WAL record as a consensus message. Torn records never get here (their checksum fails), so
 * one that does not decode is damage the checksum missed, or a file from another version.
 */
function decodeWalEntry(raw: Uint8Array, height: number): ConsensusMessage {
  try {
    return decodeConsensusMessage(raw);
  } catch (err) {
    throw new MedLedgerError(
      NodeErrorCode.WalCorrupt,
      `the consensus WAL of height ${height} holds a record that is not a consensus message`,
      { height, reason: (err as Error).message },
    );
  }
}

/** A message this node signed at the current height, kept to be sent again if the height stalls. */
type OwnMessage = { kind: 'proposal'; proposal: Proposal; blockBytes: Uint8Array } | { kind: 'vote'; vote: Vote };

/** Identifies a signed message: a resent copy has other bytes but the same key. */
function messageKey(msg: OwnMessage | ConsensusMessage): string {
  if (msg.kind === 'vote') {
    const v = msg.vote;
    return `v|${v.type}|${v.round}|${toHex(v.validator)}|${v.blockHash ? toHex(v.blockHash) : 'nil'}`;
  }
  const p = msg.proposal;
  return `p|${p.round}|${p.polRound}|${toHex(p.proposer)}|${toHex(p.blockHash)}`;
}
/** Votes for h + 1 from validators that join the set at h + 1 (the engine keeps only current members'). */
const MAX_FUTURE_VOTES = 256;
/** Bound on fetching the txs of a compact proposal that the mempool does not hold. */
const PROPOSAL_TXS_TIMEOUT_MS = 3000;
/** How long a decided block's missing txs are awaited before block sync fetches the block. */
const REBUILD_WAIT_MS = 500;

export interface ConsensusDriverOptions {
  topic: string;
  /**
   * Request/response protocol for the txs of a compact proposal. When set, proposals are
   * gossiped by tx hash (ADR 0008); without it, with the whole block.
   */
  proposalTxsProtocol?: string;
}

/** Labels of the step-duration metric, by the step that ends (see `#reachStep`). */
const STEPS = ['propose', 'prevote', 'precommit', 'commit'] as const;

/**
 * Runs the pure consensus engine: verifies and feeds it messages, carries out the actions it
 * returns (sign through the guard, write to the WAL, broadcast, schedule timeouts, commit), and
 * paces heights (a new height starts at once when txs wait, else after the empty-block interval).
 * Every interaction with the engine is serialised through one queue.
 */
export class ConsensusDriver {
  #queue: Promise<void> = Promise.resolve();
  #height = 0;
  #started = false;
  #stopped = false;
  #syncing = false;
  #timers = new Set<NodeJS.Timeout>();
  #startTimer: NodeJS.Timeout | undefined;
  /** Blocks of proposals seen at the current height, by hash. */
  #blocks = new Map<string, Block>();
  /** Compact proposals of this height being rebuilt (missing txs fetched), by block hash. */
  #rebuilding = new Map<string, Promise<Block | undefined>>();
  /** Per height (h, h + 1) and round, the proposals handled: proposer and `blockHash|polRound` keys. */
  #proposalsSeen = new Map<number, Map<number, { proposer: string; keys: Set<string> }>>();
  #futureProposals: EarlyMessage<ProposalMessage>[] = [];
  #futureVotes: EarlyMessage[] = [];
  /** Kept peer messages not yet in the WAL: for rounds ahead of this node, or the next height. */
  #unlogged: UnloggedMessage[] = [];
  #validators: Validator[] = [];
  readonly activity = new Map<string, ValidatorActivity>();
  /** Per height around the current one (h - 1 .. h + 1), who sent this node a vote for it. */
  #votedAt = new Map<number, Set<string>>();
  /** Heights this node ran consensus for (not only synced): only those are judged for missed blocks. */
  #entered = new Set<number>();
  #names = new Map<string, string>();
  #topic: string;
  /** This node's signed messages of the current height, by key, in signing order. */
  #own = new Map<string, OwnMessage>();
  /** Keys of the current height's messages already handled: a resent copy is handled once. */
  #seen = new Set<string>();
  /** Messages handled at the current height; with round and step, what the stall check compares. */
  #handled = 0;
  #lastProgress = '';
  #stallTicks = 0;
  /** Height, round and step of the last stall logged. */
  #stallLogged = '';
  #lastPeers = new Set<string>();
  #peerJoined = false;
  #resendTimer: NodeJS.Timeout | undefined;
  /** The last step this height reached on this node and when, for the step-duration metric. */
  #step: { index: number; at: number } | undefined;

  constructor(
    private readonly opts: ConsensusDriverOptions,
    private readonly m: ConsensusDriverModules,
  ) {
    this.#topic = opts.topic;
  }

  get height(): number {
    return this.#height;
  }

  get round(): number {
    return this.m.engine.round;
  }

  get catchingUp(): boolean {
    return this.#syncing;
  }

  async start(): Promise<void> {
    this.m.network.subscribe(
      this.#topic,
      (data) => this.#validateMessage(data),
      (data, from) => {
        const msg = decodeGossipMessage(data);
        if (msg.kind !== 'compact-proposal') {
          void this.#enqueue(() => this.#onMessage(msg, data, false));
          return;
        }
        // Rebuilt outside the queue: a fetch of missing txs must not hold up votes and timeouts.
        const rebuilt = this.#rebuild(msg, from).then(
          (full) => {
            if (full) void this.#enqueue(() => this.#onMessage(full.msg, full.raw, false));
            return full?.msg.kind === 'proposal' ? full.msg.block : undefined;
          },
          (err: unknown) => {
            this.m.logger.warn({ reason: (err as Error).message }, 'compact proposal not rebuilt');
            return undefined;
          },
        );
        if (msg.proposal.height === this.#height) this.#rebuilding.set(toHex(msg.proposal.blockHash), rebuilt);
      },
    );
    if (this.opts.proposalTxsProtocol) {
      await this.m.network.handle(this.opts.proposalTxsProtocol, async (req) => this.#serveProposalTxs(req), {
        maxRequestBytes: 512 * 1024,
        maxResponseBytes: this.m.chain.params.maxBlockBytes + 64 * 1024,
        requestsPerSecond: 50,
        // One fetch per proposal being rebuilt, and #admitProposal bounds those.
        maxStreamsPerPeer: 16,
      });
    }
    // Txs arrived while waiting for the empty-block delay: start once the pacing allows.
    this.m.mempool.onTxsAvailable(() => {
      if (this.#startTimer) void this.#enqueue(() => this.#startWhenDue());
    });
    // A WAL that cannot be replayed fails the start: running on without the messages after the
    // bad record could lose a lock the node's own precommit stands for.
    await this.#enqueue(() => this.#catchUpThenEnter('startup', true), { rethrow: true });
    this.#resendTimer = setInterval(() => void this.#enqueue(() => this.#resendTick()), RESEND_TICK_MS);
    this.#resendTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#resendTimer) clearInterval(this.#resendTimer);
    this.#clearTimers();
    await this.#queue.catch(() => undefined);
  }

  /** Starts block sync from outside (e.g. a peer reports a greater height). */
  requestCatchUp(reason: string): void {
    if (this.#syncing || this.#stopped) return;
    this.#enqueue(() => this.#catchUpThenEnter(reason, false));
  }

  /** Runs `task` after those queued before it. A failure is logged, or with `rethrow` passed on. */
  #enqueue(task: () => Promise<void> | void, opts: { rethrow?: boolean } = {}): Promise<void> {
    let failure: { err: unknown } | undefined;
    const run = this.#queue.then(async () => {
      if (this.#stopped) return;
      try {
        await task();
      } catch (err) {
        if (opts.rethrow) failure = { err };
        else this.m.logger.error({ err, height: this.#height }, 'consensus step failed');
      }
    });
    // The queue itself never rejects: later tasks run whatever this one did.
    this.#queue = run;
    return opts.rethrow
      ? run.then(() => {
          if (failure) throw failure.err;
        })
      : run;
  }

  async #catchUpThenEnter(reason: string, replayWal: boolean): Promise<void> {
    this.#syncing = true;
    this.m.metrics.syncing.set(1);
    try {
      await this.m.catchUp(reason);
    } finally {
      this.#syncing = false;
      this.m.metrics.syncing.set(0);
    }
    if (this.#stopped) return;
    if (this.m.chain.height + 1 !== this.#height || !this.#started)
      await this.#enterHeight(this.m.chain.height + 1, replayWal);
  }

  /** Prepares height h; the engine starts at once or after the empty-block pacing. */
  async #enterHeight(height: number, replayWal: boolean): Promise<void> {
    this.#clearTimers();
    this.#height = height;
    this.#started = false;
    this.#blocks.clear();
    this.#rebuilding.clear();
    for (const h of this.#proposalsSeen.keys()) if (h < height) this.#proposalsSeen.delete(h);
    this.#own.clear();
    this.#seen.clear();
    this.#handled = 0;
    this.#validators = this.m.chain.validatorsAt(height);
    // Votes for this height may have arrived early (h + 1 while at h): keep them.
    if (!this.#votedAt.has(height)) this.#votedAt.set(height, new Set());
    this.#entered.add(height);
    for (const h of this.#votedAt.keys()) if (h < height - 1) this.#votedAt.delete(h);
    for (const h of this.#entered) if (h < height - 1) this.#entered.delete(h);
    this.m.metrics.validators.set(this.#validators.length);
    // Every validator's missed-blocks series exists from the start (0 until it misses one).
    for (const v of this.#validators) {
      this.m.metrics.validatorMissedBlocks.inc({ validator: toHex(v.address), name: v.name }, 0);
    }
    this.m.metrics.isValidator.set(this.isValidator() ? 1 : 0);
    // One missed-proposals series per validator from the start (0 until it misses a turn), so
    // dashboards and alerts see every validator, not only those that already missed.
    for (const v of this.#validators) this.m.metrics.proposalsMissed.inc({ validator: toHex(v.address) }, 0);
    const walEntries: WalEntry[] = [];
    if (replayWal) {
      for await (const raw of this.m.wal.entries(height)) walEntries.push({ msg: decodeWalEntry(raw, height), raw });
    }
    const wait = walEntries.length > 0 || height === 1 ? 0 : this.#startDelay();
    if (wait === 0) await this.#startHeightNow(walEntries);
    else this.#scheduleStart(wait);
  }

  /** How long after now the height should start: paced with txs waiting, else the empty-block delay. */
  #startDelay(): number {
    const p = this.m.chain.params;
    const interval =
      this.m.mempool.size > 0 ? p.minBlockIntervalMs : p.createEmptyBlocks ? p.emptyBlockIntervalMs : Infinity;
    return Math.max(0, this.m.chain.latestTime + interval - this.m.now());
  }

  #scheduleStart(wait: number): void {
    if (this.#startTimer) clearTimeout(this.#startTimer);
    // Infinity (no empty blocks): wait for txs or a peer's message.
    this.#startTimer = setTimeout(
      () => (wait === Infinity ? undefined : void this.#enqueue(() => this.#startWhenDue())),
      wait === Infinity ? 2 ** 30 : wait,
    );
  }

  /** Starts the height once its delay is over; a timer may fire a millisecond before `now` says so. */
  async #startWhenDue(): Promise<void> {
    if (this.#started) return;
    const wait = this.#startDelay();
    if (wait === 0) await this.#startHeightNow();
    else this.#scheduleStart(wait);
  }

  async #startHeightNow(walEntries: WalEntry[] = []): Promise<void> {
    if (this.#started) return;
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
    this.#started = true;
    this.#step = { index: 0, at: performance.now() };
    const p = this.m.chain.params;
    const actions = this.m.engine.startHeight(this.#height, {
      validators: this.#validators.map((v) => v.address),
      self: this.m.signer && this.#isValidator(this.m.signer.address) ? this.m.signer.address : null,
      timeouts: timeoutParamsFromChain(p),
    });
    this.m.metrics.round.set(0);
    await this.#dispatch(actions);
    for (const { msg, raw } of walEntries) {
      if (this.#height !== this.m.chain.height + 1) break;
      await this.#onMessage(msg, raw, true);
    }
    const future = this.#futureProposals.filter((f) => f.msg.proposal.height === this.#height);
    this.#futureProposals = [];
    for (const f of future) await this.#onMessage(f.msg, f.raw, false);
    const votes = this.#futureVotes.filter((f) => f.msg.kind === 'vote' && f.msg.vote.height === this.#height);
    this.#futureVotes = [];
    for (const f of votes) await this.#onMessage(f.msg, f.raw, false);
  }

  #isValidator(address: Uint8Array): boolean {
    return this.#validators.some((v) => bytesEqual(v.address, address));
  }

  #validatorOf(address: Uint8Array): Validator | undefined {
    return this.#validators.find((v) => bytesEqual(v.address, address));
  }

  /** Gossip validation: cheap checks and signatures before a message is forwarded. */
  #validateMessage(data: Uint8Array): GossipVerdict {
    let msg: ConsensusMessage | CompactProposalMessage;
    let height: number;
    try {
      // The height first: a block outside the window is not worth decoding.
      height = gossipMessageHeight(data);
      const current = this.m.chain.height + 1;
      if (height < current - 1 || height > current + 1) return GossipVerdict.Ignore;
      msg = decodeGossipMessage(data);
    } catch {
      return GossipVerdict.Reject;
    }
    const validators = this.m.chain.validatorsAt(height);
    if (msg.kind === 'vote') {
      const v = validators.find((x) => bytesEqual(x.address, msg.vote.validator));
      if (!v) return GossipVerdict.Reject;
      const ok = verifySignature(v.pubKey, voteSignBytes(this.m.chain.chainId, msg.vote), msg.vote.signature);
      return ok ? GossipVerdict.Accept : GossipVerdict.Reject;
    }
    const { proposal } = msg;
    const block = msg.kind === 'proposal' ? msg.block : msg.skeleton;
    const expected = proposerFor(
      validators.map((v) => v.address),
      proposal.height,
      proposal.round,
    );
    if (!bytesEqual(expected, proposal.proposer)) return GossipVerdict.Reject;
    const v = validators.find((x) => bytesEqual(x.address, proposal.proposer))!;
    if (!verifySignature(v.pubKey, proposalSignBytes(this.m.chain.chainId, proposal), proposal.signature)) {
      return GossipVerdict.Reject;
    }
    if (block.header.height !== proposal.height) return GossipVerdict.Reject;
    // Past the bound: not handled here, and not forwarded either.
    return this.#admitProposal(proposal) ? GossipVerdict.Accept : GossipVerdict.Ignore;
  }

  /**
   * Turns a compact proposal into the full one: txs from the mempool by hash, the rest fetched
   * from the proposer (or, failing that, the peer that relayed it). Each fetched tx must hash to
   * the hash it stands for, so the block is exactly the one the proposer signed for; whether it
   * is valid is `validateBlock`'s business, as for a full proposal. Undefined when the txs cannot
   * be had: the proposal then counts as not received, as when gossip loses one.
   */
  async #rebuild(
    msg: CompactProposalMessage,
    from: string,
  ): Promise<{ msg: ConsensusMessage; raw: Uint8Array } | undefined> {
    const { proposal, skeleton, txHashes } = msg;
    if (proposal.height < this.#height) return undefined;
    const txs: (Uint8Array | undefined)[] = txHashes.map((h) => this.m.mempool.get(toHex(h))?.bytes);
    const missing = txs.flatMap((t, i) => (t === undefined ? [i] : []));
    if (missing.length > 0) {
      const proposer = this.m.chain.validatorsAt(proposal.height).find((v) => bytesEqual(v.address, proposal.proposer));
      const peers = [...new Set([proposer ? peerIdFromNodePublicKey(proposer.pubKey) : from, from])];
      let fetched: Uint8Array[] | undefined;
      for (const peer of peers) {
        fetched = await this.#fetchProposalTxs(peer, proposal.blockHash, missing).catch((err: unknown) => {
          this.m.logger.debug({ peer, reason: (err as Error).message }, 'fetching proposal txs failed');
          return undefined;
        });
        if (fetched) break;
      }
      if (!fetched) return undefined;
      this.m.metrics.proposalTxsFetched.inc(missing.length);
      for (const [k, i] of missing.entries()) {
        if (!bytesEqual(sha256(fetched[k]!), txHashes[i]!))
          throw new MedLedgerError(NodeErrorCode.ProposalTxs, `fetched tx ${i} has another hash`);
        txs[i] = fetched[k];
      }
    }
    const block = { header: skeleton.header, txs: txs as Uint8Array[], lastCommit: skeleton.lastCommit };
    const blockBytes = encodeBlock(block);
    return { msg: { kind: 'proposal', proposal, block, blockBytes }, raw: encodeProposalMessage(proposal, blockBytes) };
  }

  async #fetchProposalTxs(peer: string, blockHash: Uint8Array, indices: number[]): Promise<Uint8Array[]> {
    const res = await this.m.network.request(
      peer,
      this.opts.proposalTxsProtocol!,
      encodeCanonical([blockHash, indices]),
      {
        signal: AbortSignal.timeout(PROPOSAL_TXS_TIMEOUT_MS),
        maxResponseBytes: this.m.chain.params.maxBlockBytes + 64 * 1024,
      },
    );
    const list = assertArray(decodeCanonical(res), 'proposal txs', indices.length);
    if (list.length !== indices.length)
      throw new MedLedgerError(NodeErrorCode.ProposalTxs, 'peer sent another number of txs');
    return list.map((t, i) => assertBytes(t, `proposal txs[${i}]`));
  }

  /** Answers [blockHash, indices] with those txs of a block proposed at the current height. */
  #serveProposalTxs(req: Uint8Array): Uint8Array {
    const v = decodeCanonical(req);
    if (!Array.isArray(v) || v.length !== 2)
      throw new MedLedgerError(NodeErrorCode.ProposalTxs, 'expected [blockHash, indices]');
    const block = this.#blocks.get(toHex(assertBytes(v[0], 'blockHash', 32)));
    if (!block) throw new MedLedgerError(NodeErrorCode.ProposalTxs, 'no such proposal here');
    const indices = assertArray(v[1], 'indices', block.txs.length);
    return encodeCanonical(
      indices.map((i) => {
        const tx = block.txs[assertUint(i, 'index')];
        if (!tx) throw new MedLedgerError(NodeErrorCode.ProposalTxs, 'index out of range');
        return tx;
      }),
    );
  }

  async #onMessage(msg: ConsensusMessage, raw: Uint8Array | null, fromWal: boolean): Promise<void> {
    const height = msg.kind === 'vote' ? msg.vote.height : msg.proposal.height;
    // A late vote for the previous height still tells the operator view that its validator is live.
    if (msg.kind === 'vote' && height === this.#height - 1) this.#noteSigned(msg.vote.validator, height);
    if (height < this.#height) return;
    if (height > this.#height) {
      const next = height === this.#height + 1;
      // The engine buffers members' votes for h + 1 (their bytes wait in #unlogged); proposals
      // and joining validators' votes wait here and come back through this method, bytes and
      // all, when h + 1 starts.
      if (msg.kind === 'proposal') {
        if (next) this.#keepFutureProposal({ msg, raw });
      } else {
        if (next) this.#noteSigned(msg.vote.validator, height);
        const joining = next && !this.#isValidator(msg.vote.validator);
        if (!joining) {
          const actions = this.m.engine.onVote(msg.vote);
          if (next && this.m.engine.inputKept) this.#logLater(msg, raw, fromWal);
          await this.#dispatch(actions);
        } else if (this.#futureVotes.length < MAX_FUTURE_VOTES) {
          // The engine would drop it (not in this height's set): keep it for the next height.
          this.#futureVotes.push({ msg, raw });
        }
      }
      return;
    }
    // A resent copy of a message already handled: nothing new for the engine or the WAL.
    const key = messageKey(msg);
    if (this.#seen.has(key)) return;
    // Our own messages from before a restart (replayed from the WAL) are resent like new ones.
    if (fromWal && this.#isOwn(msg)) this.#own.set(key, msg);
    // A peer already works on this height: do not wait out the empty-block pacing.
    if (!this.#started) await this.#startHeightNow();
    let actions: EngineAction[];
    if (msg.kind === 'vote') {
      this.#noteSigned(msg.vote.validator, height);
      actions = this.m.engine.onVote(msg.vote);
    } else {
      actions = this.m.engine.onProposal(msg.proposal, this.#validateProposed(msg, fromWal));
    }
    const kept = this.m.engine.inputKept;
    // A proposal is seen whatever the engine did with it, since validating executes its block
    // (#admitProposal bounds how many there are). Only kept votes count: those it drops (a
    // validator signing round after round) must neither grow the set nor pass for progress
    // that holds back the stall resend.
    if (kept || msg.kind === 'proposal') this.#seen.add(key);
    if (kept) {
      this.#handled++;
      this.#logLater(msg, raw, fromWal);
    }
    await this.#dispatch(actions);
  }

  /**
   * Whether a proposed block is valid; a valid one is kept by hash for the decision. A replayed
   * proposal skips the check against our clock, which may have come back behind after a power
   * loss: judged invalid now, it would not restore the lock our precommit stands for.
   */
  #validateProposed({ proposal, block }: ProposalMessage, fromWal: boolean): boolean {
    try {
      const hash = this.m.chain.validateBlock(block, fromWal ? null : this.m.now());
      if (!bytesEqual(hash, proposal.blockHash)) return false;
      this.#blocks.set(toHex(hash), block);
      return true;
    } catch (err) {
      const reason = (err as Error).message;
      this.m.logger.warn({ height: proposal.height, round: proposal.round, reason }, 'rejected proposed block');
      return false;
    }
  }

  /**
   * Whether a peer's proposal is worth rebuilding, validating (which executes its block) and
   * keeping. Only the round's proposer can sign one, but it can sign any number: without this
   * bound one validator could have each node execute and hold block after block. Honest
   * proposers send one per round; a node that lags keeps up to MAX_PROPOSALS_AHEAD of each
   * proposer's later rounds, and more once it reaches them (their proposers resend on a stall).
   */
  #admitProposal(p: Proposal): boolean {
    let rounds = this.#proposalsSeen.get(p.height);
    if (!rounds) {
      if (p.height < this.#height) return false;
      rounds = new Map();
      this.#proposalsSeen.set(p.height, rounds);
    }
    const key = `${toHex(p.blockHash)}|${p.polRound}`;
    const proposer = toHex(p.proposer);
    const slot = rounds.get(p.round);
    if (slot?.keys.has(key)) return true;
    if ((slot?.keys.size ?? 0) >= MAX_PROPOSALS_PER_ROUND) return false;
    const engine = this.m.engine;
    const reached = engine.height === p.height ? engine.round : p.height === this.#height ? 0 : -1;
    if (p.round > reached) {
      let ahead = 0;
      for (const [round, s] of rounds) if (round > reached && s.proposer === proposer) ahead += s.keys.size;
      if (ahead >= MAX_PROPOSALS_AHEAD) return false;
    }
    if (slot) slot.keys.add(key);
    else rounds.set(p.round, { proposer, keys: new Set([key]) });
    return true;
  }

  /**
   * Keeps an early proposal for the next height. When the buffer is full, a lower round
   * displaces the highest one held: the next height most likely decides in round 0, and one
   * proposer signing proposals for many of its later rounds must not crowd out that one.
   */
  #keepFutureProposal(early: EarlyMessage<ProposalMessage>): void {
    const kept = this.#futureProposals;
    const round = (e: EarlyMessage<ProposalMessage>) => e.msg.proposal.round;
    if (kept.length >= MAX_FUTURE_PROPOSALS) {
      let highest = 0;
      for (let i = 1; i < kept.length; i++) if (round(kept[i]!) > round(kept[highest]!)) highest = i;
      if (round(kept[highest]!) <= round(early)) return;
      kept.splice(highest, 1);
    }
    kept.push(early);
  }

  /** A peer's message that the engine kept, for the WAL. */
  #logLater(msg: ConsensusMessage, raw: Uint8Array | null, fromWal: boolean): void {
    if (!raw || fromWal) return;
    const v = msg.kind === 'vote' ? msg.vote : undefined;
    const p = msg.kind === 'proposal' ? msg.proposal : undefined;
    this.#unlogged.push({
      height: v?.height ?? p!.height,
      round: v?.round ?? p!.round,
      sender: v?.validator ?? p!.proposer,
      raw,
    });
  }

  /**
   * Writes the kept peer messages of rounds this node has reached to the WAL, in arrival order;
   * those of later rounds (or the next height) wait, and are dropped once the engine no longer
   * holds them (ADR 0002). A message can change this node's state only from the round it
   * applies to, or through a round skip, which moves the engine to that round first; every own
   * message is written after this runs, so what led to it precedes it in the WAL. A validator
   * that signs messages for many rounds ahead therefore costs memory within the engine's bounds,
   * not WAL space.
   *
   * A peer's message goes to the WAL without an fsync (as CometBFT's `wal.Write`). The file WAL
   * writes it before `append` returns, so the fsync of our next own message makes it durable
   * too. A peer message lost in a crash came after our last one, and its author sends it again.
   */
  #writeReachedToWal(): void {
    if (this.#unlogged.length === 0) return;
    const engine = this.m.engine;
    const started = this.#started && engine.height === this.#height;
    const waiting: UnloggedMessage[] = [];
    for (const u of this.#unlogged) {
      if (u.height < this.#height) continue;
      if (u.height > this.#height || !started) waiting.push(u);
      else if (u.round <= engine.round) {
        this.m.wal.append(u.height, u.raw, { sync: false }).catch((err: unknown) => {
          if (!this.#stopped)
            this.m.logger.error({ height: u.height, err: (err as Error).message }, 'consensus WAL append failed');
        });
      } else if (engine.holds(u.sender, u.round)) waiting.push(u);
    }
    this.#unlogged = waiting;
  }

  async #dispatch(initial: EngineAction[]): Promise<void> {
    const queue = [...initial];
    this.#writeReachedToWal();
    while (queue.length > 0 && !this.#stopped) {
      const action = queue.shift()!;
      switch (action.kind) {
        case 'propose':
          queue.push(...(await this.#propose(action)));
          break;
        case 'vote':
          queue.push(...(await this.#vote(action)));
          break;
        case 'schedule-timeout':
          this.#schedule(action.step, action.height, action.round, action.durationMs);
          this.m.metrics.round.set(action.round);
          break;
        case 'decide':
          await this.#decide(action.height, action.round, action.blockHash, action.precommits);
          return;
        case 'evidence':
          this.m.metrics.evidence.inc();
          this.m.logger.warn(
            { validator: toHex(action.voteA.validator), height: action.voteA.height },
            'equivocation detected',
          );
          this.m.onEvidence(action.voteA, action.voteB);
          break;
        case 'behind':
          this.requestCatchUp(`messages for height ${action.height}`);
          break;
      }
    }
  }

  async #propose(a: Extract<EngineAction, { kind: 'propose' }>): Promise<EngineAction[]> {
    const signer = this.m.signer!;
    let block: Block | undefined;
    let blockBytes: Uint8Array;
    if (a.validValue) {
      block = this.#blocks.get(toHex(a.validValue));
      if (!block) return [];
      blockBytes = encodeBlock(block);
    } else {
      const p = this.m.chain.params;
      const stored = this.m.chain.buildProposal(
        a.round,
        this.m.now(),
        signer.address,
        this.m.mempool.reap(this.m.chain.proposalTxLimit(), p.maxBlockBytes, this.m.proposable),
      );
      block = stored.block;
      blockBytes = stored.bytes;
      this.#blocks.set(toHex(stored.hash), block);
    }
    const blockHash = a.validValue ?? blockHashOf(block.header);
    let proposal: Proposal;
    try {
      proposal = signer.signProposal({ height: a.height, round: a.round, polRound: a.validRound, blockHash });
    } catch (err) {
      this.m.logger.warn({ height: a.height, round: a.round, reason: (err as Error).message }, 'not proposing');
      return [];
    }
    const message = encodeProposalMessage(proposal, blockBytes);
    this.#writeReachedToWal();
    await this.m.wal.append(a.height, message, { sync: true });
    this.#publish(
      this.opts.proposalTxsProtocol
        ? encodeCompactProposalMessage(
            proposal,
            block,
            block.txs.map((t) => sha256(t)),
          )
        : message,
    );
    this.#keepOwn({ kind: 'proposal', proposal, blockBytes });
    this.#noteProposed(signer.address, a.height);
    return this.m.engine.onProposal(proposal, true);
  }

  async #vote(a: Extract<EngineAction, { kind: 'vote' }>): Promise<EngineAction[]> {
    let vote: Vote;
    try {
      vote = this.m.signer!.signVote({ type: a.type, height: a.height, round: a.round, blockHash: a.blockHash });
    } catch (err) {
      this.m.logger.warn({ height: a.height, round: a.round, reason: (err as Error).message }, 'not voting');
      return [];
    }
    const message = encodeVoteMessage(vote);
    this.#writeReachedToWal();
    await this.m.wal.append(a.height, message, { sync: true });
    this.#publish(message);
    this.#keepOwn({ kind: 'vote', vote });
    // TEST FAULT (byzantine.ts): a conflicting vote for the same step, never fed to our engine.
    if (this.m.equivocator) this.#publish(encodeVoteMessage(this.m.equivocator.conflictingVote(vote)));
    this.#noteSigned(vote.validator, a.height);
    this.#reachStep(a.type === VoteType.Prevote ? 1 : 2);
    return this.m.engine.onVote(vote);
  }

  #keepOwn(msg: OwnMessage): void {
    const key = messageKey(msg);
    this.#seen.add(key);
    this.#own.set(key, msg);
  }

  #isOwn(msg: ConsensusMessage): boolean {
    const self = this.m.signer?.address;
    if (!self) return false;
    return bytesEqual(msg.kind === 'vote' ? msg.vote.validator : msg.proposal.proposer, self);
  }

  /**
   * Liveness under message loss. Gossipsub delivers a message once, to the peers connected at
   * that moment, while Tendermint assumes every message of a correct validator arrives in the
   * end. A validator that was down, frozen or partitioned misses votes nobody sends again; and
   * with the 2f+1 it takes waiting for each other's lost prevotes (no timeout fires below 2f+1
   * votes of a round), the network stalled for good after the fault healed (seen in the e2e
   * halt and partition tests). So this node publishes its own signed messages of the current
   * height again when nothing moved at the height for STALL_TICKS ticks, and once a tick after
   * a peer connects (it missed them; the tick's delay lets it subscribe first). A resend tag
   * keeps gossip from dropping them as already seen. Only messages already signed go out again:
   * the double-sign guard is not involved and safety is unchanged.
   */
  #resendTick(): void {
    const peers = new Set(this.m.network.connectedPeers().map((p) => p.peerId));
    const forNewPeer = this.#peerJoined;
    this.#peerJoined = [...peers].some((p) => !this.#lastPeers.has(p));
    this.#lastPeers = peers;
    if (!this.#started || this.#syncing || this.#own.size === 0) {
      this.#lastProgress = '';
      this.#stallTicks = 0;
      return;
    }
    const progress = `${this.#height}|${this.m.engine.round}|${this.m.engine.step}|${this.#handled}`;
    this.#stallTicks = progress === this.#lastProgress ? this.#stallTicks + 1 : 0;
    this.#lastProgress = progress;
    if (this.#stallTicks < STALL_TICKS && !forNewPeer) return;
    if (this.#stallTicks >= STALL_TICKS) this.#explainStall();
    this.#stallTicks = 0;
    const tag = this.m.now();
    const own = [...this.#own.values()].slice(-MAX_RESEND);
    for (const o of own) {
      this.#publish(
        o.kind === 'vote' ? encodeVoteMessage(o.vote, tag) : encodeProposalMessage(o.proposal, o.blockBytes, tag),
      );
    }
    this.m.metrics.consensusResent.inc(own.length);
    this.m.logger.debug(
      { height: this.#height, round: this.m.engine.round, messages: own.length, forNewPeer },
      'resent own consensus messages',
    );
  }

  #publish(message: Uint8Array): void {
    this.m.network.publish(this.#topic, message).catch((err: unknown) => {
      this.m.logger.debug({ err }, 'publish failed');
    });
  }

  #schedule(step: Step, height: number, round: number, ms: number): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#enqueue(async () => {
        if (height !== this.#height) return;
        this.#explainTimeout(step, height, round);
        await this.#dispatch(this.m.engine.onTimeout(step, height, round));
      });
    }, ms);
    this.#timers.add(timer);
  }

  /**
   * A timeout that moves consensus on without a decision is logged at info with the validators
   * whose proposal, prevotes or precommits this node is missing: the first thing an operator
   * needs to see when a network stalls. Timeouts of steps already passed are not logged.
   */
  #explainTimeout(step: Step, height: number, round: number): void {
    const e = this.m.engine;
    if (round !== e.round) return;
    if ((step === 'propose' && e.step !== 'propose') || (step === 'prevote' && e.step !== 'prevote')) return;
    this.m.metrics.roundTimeouts.inc({ step });
    const { fields, waitingFor } = this.#waitingFor(step, height, round);
    this.m.logger.info(fields, `round timeout: waited for ${waitingFor}`);
  }

  /**
   * Below 2f+1 votes of a round no timeout fires (a 2|2 partition, two validators down), so a
   * round can stall without a timeout to explain it: logged once per height, round and step.
   */
  #explainStall(): void {
    const height = this.#height;
    const { round, step } = this.m.engine;
    const key = `${height}|${round}|${step}`;
    if (key === this.#stallLogged) return;
    this.#stallLogged = key;
    const { fields, waitingFor } = this.#waitingFor(step, height, round);
    this.m.logger.info(fields, `round stalled: waiting for ${waitingFor}`);
  }

  #waitingFor(step: Step, height: number, round: number): { fields: Record<string, unknown>; waitingFor: string } {
    const voters = this.m.engine.roundVoters?.(round);
    const name = (hex: string) => this.#validators.find((v) => toHex(v.address) === hex)?.name ?? hex;
    const missing = (have: string[] | undefined) =>
      have === undefined ? undefined : this.#validators.map((v) => toHex(v.address)).filter((a) => !have.includes(a));
    const proposer = toHex(
      proposerFor(
        this.#validators.map((v) => v.address),
        height,
        round,
      ),
    );
    const prevotes = missing(voters?.prevotes);
    const precommits = missing(voters?.precommits);
    const waitingFor =
      step === 'propose'
        ? `the proposal of ${name(proposer)}`
        : step === 'prevote'
          ? `prevotes from ${(prevotes ?? []).map(name).join(', ') || 'nobody: all are in, split between values (no polka)'}`
          : `precommits from ${(precommits ?? []).map(name).join(', ') || 'nobody: all are in, split between nil and a block'}`;
    const fields = {
      height,
      round,
      step,
      proposer: name(proposer),
      proposalSeen: voters?.proposal,
      missingPrevotes: prevotes?.map(name),
      missingPrecommits: precommits?.map(name),
    };
    return { fields, waitingFor };
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
  }

  async #decide(height: number, round: number, blockHash: Uint8Array, precommits: Vote[]): Promise<void> {
    this.#reachStep(3);
    const block = this.#blocks.get(toHex(blockHash)) ?? (await this.#awaitRebuilt(blockHash));
    const commit = {
      height,
      round,
      blockHash,
      signatures: precommits
        .filter((v) => v.type === VoteType.Precommit)
        .map((v) => ({ validator: v.validator, signature: v.signature })),
    };
    this.#recordRounds(height, round);
    if (!block) {
      // Decided by 2f+1 precommits without our holding the block: fetch it through block sync.
      this.m.logger.info({ height, round }, 'decided a block we do not hold; syncing it');
      await this.#catchUpThenEnter('decided block not held', false);
      return;
    }
    const committed = await this.m.chain.commit(block, commit);
    this.m.mempool.update(committed.txHashes);
    // Off the path to the next height: the WAL orders it before the next height's appends, and
    // entries of a decided height that survive a crash are never replayed (only the current one).
    this.m.wal.prune(height + 1).catch((err: unknown) => {
      if (!this.#stopped) this.m.logger.error({ height, err: (err as Error).message }, 'consensus WAL prune failed');
    });
    this.m.logger.info(
      { height, round, txs: block.txs.length, hash: toHex(committed.hash).slice(0, 16) },
      'committed block',
    );
    this.#reachStep(4);
    this.m.onCommit(committed);
    this.#recordMissed(height - 1);
    await this.#enterHeight(height + 1, false);
  }

  /**
   * The block of a proposal decided while its missing txs were still on their way, once they
   * are here and it validates: cheaper than syncing the block from scratch. A fetch that takes
   * longer (a stalled proposer) is left to block sync.
   */
  async #awaitRebuilt(blockHash: Uint8Array): Promise<Block | undefined> {
    const rebuilding = this.#rebuilding.get(toHex(blockHash));
    if (!rebuilding) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const block = await Promise.race([
      rebuilding,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), REBUILD_WAIT_MS))),
    ]).finally(() => clearTimeout(timer));
    if (!block) return undefined;
    try {
      return bytesEqual(this.m.chain.validateBlock(block, null), blockHash) ? block : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * A height's steps on this node, in order: started (0), own first prevote (1), own first
   * precommit (2), decided (3), committed (4). The time between two consecutive ones is the
   * duration of the step that ended: waiting for and checking the proposal (or building it),
   * waiting for prevotes, for precommits, and writing the block. Metrics only; consensus never
   * reads this clock.
   */
  #reachStep(index: 1 | 2 | 3 | 4): void {
    const last = this.#step;
    if (!last || index <= last.index) return;
    const now = performance.now();
    if (index === last.index + 1)
      this.m.metrics.consensusStepSeconds.observe({ step: STEPS[index - 1]! }, (now - last.at) / 1000);
    this.#step = { index, at: now };
  }

  /** Called by block sync for each block it applies, so the operator numbers stay right. */
  noteSynced(committed: CommittedBlock): void {
    this.#noteProposed(committed.block.header.proposer, committed.height);
  }

  #recordRounds(height: number, round: number): void {
    this.m.metrics.roundsPerHeight.observe(round + 1);
    const addresses = this.#validators.map((v) => v.address);
    for (let r = 0; r < round; r++) {
      const missed = toHex(proposerFor(addresses, height, r));
      this.m.metrics.proposalsMissed.inc({ validator: missed });
      this.#activityOf(missed).missedProposals++;
    }
    this.#noteProposed(proposerFor(addresses, height, round), height);
  }

  /**
   * Missed blocks of height h, judged once h + 1 is decided so that late votes for h still
   * count: a validator of h's set with no vote for h at this node missed it. Heights this node
   * only synced are not judged (it saw none of their votes).
   */
  #recordMissed(height: number): void {
    const voted = this.#votedAt.get(height);
    if (!voted || !this.#entered.has(height) || height < 1) return;
    for (const v of this.m.chain.validatorsAt(height)) {
      const address = toHex(v.address);
      if (voted.has(address)) continue;
      this.#activityOf(address).missedBlocks++;
      this.m.metrics.validatorMissedBlocks.inc({ validator: address, name: v.name });
    }
    this.#votedAt.delete(height);
  }

  #activityOf(address: string): ValidatorActivity {
    let a = this.activity.get(address);
    if (!a) {
      a = { lastProposedHeight: 0, lastSignedHeight: 0, missedProposals: 0, missedBlocks: 0 };
      this.activity.set(address, a);
    }
    return a;
  }

  #noteProposed(address: Uint8Array, height: number): void {
    const hex = toHex(address);
    const a = this.#activityOf(hex);
    a.lastProposedHeight = Math.max(a.lastProposedHeight, height);
    this.m.metrics.validatorLastProposedHeight.set({ validator: hex, name: this.#nameOf(hex) }, a.lastProposedHeight);
  }

  #noteSigned(address: Uint8Array, height: number): void {
    const hex = toHex(address);
    let voted = this.#votedAt.get(height);
    if (!voted && height === this.#height + 1) this.#votedAt.set(height, (voted = new Set()));
    voted?.add(hex);
    const a = this.#activityOf(hex);
    if (height <= a.lastSignedHeight) return;
    a.lastSignedHeight = height;
    this.m.metrics.validatorLastSignedHeight.set({ validator: hex, name: this.#nameOf(hex) }, height);
  }

  /** A validator's name for metric labels; names never change, so they are kept once seen. */
  #nameOf(hex: string): string {
    if (!this.#names.has(hex)) {
      for (const v of [...this.#validators, ...this.m.chain.validatorsAt(this.m.chain.height + 1)]) {
        this.#names.set(toHex(v.address), v.name);
      }
    }
    return this.#names.get(hex) ?? '';
  }

  /** True while this node is a member of the current validator set. */
  isValidator(): boolean {
    return !!this.m.signer && this.#isValidator(this.m.signer.address);
  }

  validatorOf(address: Uint8Array): Validator | undefined {
    return this.#validatorOf(address);
  }
}
