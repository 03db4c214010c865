import {
  VoteType,
  encodeBlock,
  bytesEqual,
  proposalSignBytes,
  toHex,
  voteSignBytes,
  type Block,
  type Proposal,
  type Vote,
} from '@medledger/types';
import { verifySignature } from '@medledger/crypto';
import type { ConsensusWal } from '@medledger/db';
import { proposerFor, type ConsensusEngine, type EngineAction, type Step } from '@medledger/consensus';
import type { Validator } from '@medledger/state';
import { GossipVerdict, type NetworkService } from '@medledger/network';
import { blockHash as blockHashOf, type Chain, type CommittedBlock } from '../chain/chain.js';
import type { Mempool } from '../mempool/mempool.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { GuardedSigner } from './signer.js';
import { decodeConsensusMessage, encodeProposalMessage, encodeVoteMessage, type ConsensusMessage } from './messages.js';

export interface ConsensusDriverModules {
  engine: ConsensusEngine;
  chain: Chain;
  mempool: Mempool;
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
}

/** Per-validator liveness numbers for the operator view. */
export interface ValidatorActivity {
  lastProposedHeight: number;
  lastSignedHeight: number;
  missedProposals: number;
}

const MAX_FUTURE_PROPOSALS = 32;

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
  #futureProposals: ConsensusMessage[] = [];
  #validators: Validator[] = [];
  readonly activity = new Map<string, ValidatorActivity>();
  #topic: string;

  constructor(
    private readonly opts: { topic: string },
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
      (data) => this.#enqueue(() => this.#onMessage(decodeConsensusMessage(data), data, false)),
    );
    this.m.mempool.onTxsAvailable(() => {
      if (this.#startTimer) this.#enqueue(async () => this.#startHeightNow());
    });
    await this.#enqueue(() => this.#catchUpThenEnter('startup', true));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimers();
    await this.#queue.catch(() => undefined);
  }

  /** Starts block sync from outside (e.g. a peer reports a greater height). */
  requestCatchUp(reason: string): void {
    if (this.#syncing || this.#stopped) return;
    this.#enqueue(() => this.#catchUpThenEnter(reason, false));
  }

  #enqueue(task: () => Promise<void> | void): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#stopped) return;
      try {
        await task();
      } catch (err) {
        this.m.logger.error({ err, height: this.#height }, 'consensus step failed');
      }
    });
    this.#queue = run;
    return run;
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
    this.#validators = this.m.chain.validatorsAt(height);
    const walEntries: Uint8Array[] = [];
    if (replayWal) for await (const e of this.m.wal.entries(height)) walEntries.push(e);
    const wait = walEntries.length > 0 || this.m.mempool.size > 0 || height === 1 ? 0 : this.#emptyBlockDelay();
    if (wait === 0) await this.#startHeightNow(walEntries);
    else if (wait !== Infinity) this.#startTimer = setTimeout(() => this.#enqueue(() => this.#startHeightNow()), wait);
    // No empty blocks: wait for txs or a peer's message.
    else this.#startTimer = setTimeout(() => undefined, 2 ** 30);
  }

  #emptyBlockDelay(): number {
    const p = this.m.chain.params;
    if (!p.createEmptyBlocks) return Infinity;
    return Math.max(0, this.m.chain.latestTime + p.emptyBlockIntervalMs - this.m.now());
  }

  async #startHeightNow(walEntries: Uint8Array[] = []): Promise<void> {
    if (this.#started) return;
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
    this.#started = true;
    const p = this.m.chain.params;
    const actions = this.m.engine.startHeight(this.#height, {
      validators: this.#validators.map((v) => v.address),
      self: this.m.signer && this.#isValidator(this.m.signer.address) ? this.m.signer.address : null,
      timeouts: {
        proposeMs: p.timeoutProposeMs,
        prevoteMs: p.timeoutPrevoteMs,
        precommitMs: p.timeoutPrecommitMs,
        deltaMs: p.timeoutDeltaMs,
        capMs: p.timeoutCapMs,
      },
    });
    this.m.metrics.round.set(0);
    await this.#dispatch(actions);
    for (const bytes of walEntries) {
      if (this.#height !== this.m.chain.height + 1) break;
      await this.#onMessage(decodeConsensusMessage(bytes), bytes, true);
    }
    const future = this.#futureProposals.filter((f) => f.kind === 'proposal' && f.proposal.height === this.#height);
    this.#futureProposals = [];
    for (const msg of future) await this.#onMessage(msg, null, false);
  }

  #isValidator(address: Uint8Array): boolean {
    return this.#validators.some((v) => bytesEqual(v.address, address));
  }

  #validatorOf(address: Uint8Array): Validator | undefined {
    return this.#validators.find((v) => bytesEqual(v.address, address));
  }

  /** Gossip validation: cheap checks and signatures before a message is forwarded. */
  #validateMessage(data: Uint8Array): GossipVerdict {
    let msg: ConsensusMessage;
    try {
      msg = decodeConsensusMessage(data);
    } catch {
      return GossipVerdict.Reject;
    }
    const height = msg.kind === 'vote' ? msg.vote.height : msg.proposal.height;
    const current = this.m.chain.height + 1;
    if (height < current - 1 || height > current + 1) return GossipVerdict.Ignore;
    const validators = this.m.chain.validatorsAt(height);
    if (msg.kind === 'vote') {
      const v = validators.find((x) => bytesEqual(x.address, msg.vote.validator));
      if (!v) return GossipVerdict.Reject;
      const ok = verifySignature(v.pubKey, voteSignBytes(this.m.chain.chainId, msg.vote), msg.vote.signature);
      return ok ? GossipVerdict.Accept : GossipVerdict.Reject;
    }
    const { proposal, block } = msg;
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
    return GossipVerdict.Accept;
  }

  async #onMessage(msg: ConsensusMessage, raw: Uint8Array | null, fromWal: boolean): Promise<void> {
    const height = msg.kind === 'vote' ? msg.vote.height : msg.proposal.height;
    if (height < this.#height) return;
    if (height > this.#height) {
      if (
        msg.kind === 'proposal' &&
        height === this.#height + 1 &&
        this.#futureProposals.length < MAX_FUTURE_PROPOSALS
      ) {
        this.#futureProposals.push(msg);
      } else if (msg.kind === 'vote') {
        await this.#dispatch(this.m.engine.onVote(msg.vote));
      }
      return;
    }
    // A peer already works on this height: do not wait out the empty-block pacing.
    if (!this.#started) await this.#startHeightNow();
    if (raw && !fromWal) await this.m.wal.append(height, raw);
    if (msg.kind === 'vote') {
      this.#noteSigned(msg.vote.validator, height);
      await this.#dispatch(this.m.engine.onVote(msg.vote));
      return;
    }
    const { proposal, block } = msg;
    let valid = false;
    try {
      const hash = this.m.chain.validateBlock(block, this.m.now());
      valid = bytesEqual(hash, proposal.blockHash);
      if (valid) this.#blocks.set(toHex(hash), block);
    } catch (err) {
      this.m.logger.warn({ height, round: proposal.round, reason: (err as Error).message }, 'rejected proposed block');
    }
    await this.#dispatch(this.m.engine.onProposal(proposal, valid));
  }

  async #dispatch(initial: EngineAction[]): Promise<void> {
    const queue = [...initial];
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
        this.m.mempool.reap(p.maxBlockTxs, p.maxBlockBytes),
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
    await this.m.wal.append(a.height, message, { sync: true });
    this.#publish(message);
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
    await this.m.wal.append(a.height, message, { sync: true });
    this.#publish(message);
    this.#noteSigned(vote.validator, a.height);
    return this.m.engine.onVote(vote);
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
        if (step === 'propose' || round > 0) this.m.logger.info({ height, round, step }, 'round timeout');
        await this.#dispatch(this.m.engine.onTimeout(step, height, round));
      });
    }, ms);
    this.#timers.add(timer);
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#startTimer) clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
  }

  async #decide(height: number, round: number, blockHash: Uint8Array, precommits: Vote[]): Promise<void> {
    const block = this.#blocks.get(toHex(blockHash));
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
    await this.m.wal.prune(height + 1);
    this.m.logger.info(
      { height, round, txs: block.txs.length, hash: toHex(committed.hash).slice(0, 16) },
      'committed block',
    );
    this.m.onCommit(committed);
    await this.#enterHeight(height + 1, false);
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

  #activityOf(address: string): ValidatorActivity {
    let a = this.activity.get(address);
    if (!a) this.activity.set(address, (a = { lastProposedHeight: 0, lastSignedHeight: 0, missedProposals: 0 }));
    return a;
  }

  #noteProposed(address: Uint8Array, height: number): void {
    const a = this.#activityOf(toHex(address));
    a.lastProposedHeight = Math.max(a.lastProposedHeight, height);
  }

  #noteSigned(address: Uint8Array, height: number): void {
    const a = this.#activityOf(toHex(address));
    a.lastSignedHeight = Math.max(a.lastSignedHeight, height);
  }

  /** True while this node is a member of the current validator set. */
  isValidator(): boolean {
    return !!this.m.signer && this.#isValidator(this.m.signer.address);
  }

  validatorOf(address: Uint8Array): Validator | undefined {
    return this.#validatorOf(address);
  }
}
