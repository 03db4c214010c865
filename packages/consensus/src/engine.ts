import { bytesEqual, compareBytes, toHex, VoteType, type Proposal, type Vote } from '@medledger/types';
import { consensusError, ConsensusErrorCode } from './errors.js';
import {
  Step,
  type ConsensusEngine,
  type EngineAction,
  type EngineOptions,
  type RoundVoters,
  type TimeoutParams,
} from './interface.js';
import {
  defaultEngineLimits,
  defaultTimeoutParams,
  validateEngineLimits,
  validateTimeoutParams,
  type EngineLimits,
} from './options.js';
import { maxFaulty, proposerInSorted, quorum, sortValidators, timeoutFor } from './rules.js';

/**
 * Tendermint, Algorithm 1 of Buchman, Kwon, Milosevic, "The latest gossip on BFT consensus"
 * (2018). Line numbers in comments are the paper's. The "upon" rules are conditions over the
 * message log; the engine re-evaluates the ones an input can enable, after every input, with
 * per-hash tallies so each message costs O(1) (plus O(n) once when a block is decided).
 *
 * Differences from the paper, all on the liveness side (none weakens a safety argument):
 * - line 49 decides on 2f+1 precommits for a hash without needing the proposal: the driver
 *   fetches the block. 2f+1 precommits hold f+1 honest ones, and an honest validator precommits
 *   only a block it validated, so the block exists and is valid.
 * - the proposer also schedules timeoutPropose (as CometBFT does), so a driver that fails to
 *   build or sign its proposal does not leave this validator waiting for other rounds' messages.
 * - there is no step after a decision: the driver calls startHeight(h + 1) when it is ready
 *   (lines 52-54 and timeout_commit are its business).
 * - a validator that equivocates is one sender (for the thresholds over "∗" and the round
 *   skip), and each vote it signed counts for the value it names, up to a bound per slot (see
 *   VoteSet). That is the paper's counting of messages; only the memory bound is ours.
 */

const NIL = 'nil';
const STEP_ORDER: Record<Step, number> = { propose: 0, prevote: 1, precommit: 2 };

function hashKey(hash: Uint8Array | null): string {
  return hash === null ? NIL : toHex(hash);
}

/** What VoteSet.add did with a vote. */
const Added = { New: 0, Duplicate: 1, Conflict: 2, ConflictDropped: 3 } as const;
type Added = (typeof Added)[keyof typeof Added];

/**
 * The votes of one (round, type). A validator's first vote makes it a sender (the "2f+1 of
 * anything" of lines 34 and 47 count distinct validators). Each hash is tallied by the distinct
 * validators that signed a vote for it, as the paper counts messages: a validator that
 * equivocates is counted for each value it signed (kept up to a bound). That is safe — 2f+1
 * signers of v include f+1 honest ones, whatever the others also signed — and it is needed for
 * liveness: otherwise nodes that saw an equivocator's two votes in different orders disagree
 * forever on whether a polka exists, and a validator locked through it can never be joined.
 */
class VoteSet {
  readonly #first = new Map<string, Vote>();
  readonly #extra = new Map<string, Vote[]>();
  readonly #tally = new Map<string, number>();
  #extraCount = 0;

  constructor(private readonly maxConflicting: number) {}

  /** Distinct validators that voted, for anything. */
  get size(): number {
    return this.#first.size;
  }

  /** Votes held, conflicting ones included. */
  get votes(): number {
    return this.#first.size + this.#extraCount;
  }

  /** Hex addresses of the validators that voted, for anything. */
  voters(): string[] {
    return [...this.#first.keys()];
  }

  first(validator: string): Vote | undefined {
    return this.#first.get(validator);
  }

  count(key: string): number {
    return this.#tally.get(key) ?? 0;
  }

  add(validator: string, key: string, vote: Vote): Added {
    const first = this.#first.get(validator);
    if (!first) {
      this.#first.set(validator, vote);
      this.#bump(key, 1);
      return Added.New;
    }
    if (hashKey(first.blockHash) === key) return Added.Duplicate;
    let extra = this.#extra.get(validator);
    if (extra?.some((e) => hashKey(e.blockHash) === key)) return Added.Duplicate;
    if ((extra?.length ?? 0) >= this.maxConflicting) return Added.ConflictDropped;
    if (!extra) this.#extra.set(validator, (extra = []));
    extra.push(vote);
    this.#extraCount++;
    this.#bump(key, 1);
    return Added.Conflict;
  }

  remove(validator: string): void {
    const first = this.#first.get(validator);
    if (!first) return;
    this.#first.delete(validator);
    this.#bump(hashKey(first.blockHash), -1);
    for (const e of this.#extra.get(validator) ?? []) {
      this.#bump(hashKey(e.blockHash), -1);
      this.#extraCount--;
    }
    this.#extra.delete(validator);
  }

  /** One vote per validator that signed `key` (its first, or the conflicting one for `key`). */
  votesFor(key: string): Vote[] {
    const out: Vote[] = [];
    for (const [validator, vote] of this.#first) {
      if (hashKey(vote.blockHash) === key) out.push(vote);
      else {
        const e = this.#extra.get(validator)?.find((x) => hashKey(x.blockHash) === key);
        if (e) out.push(e);
      }
    }
    return out;
  }

  #bump(key: string, by: number): void {
    const count = this.count(key) + by;
    if (count > 0) this.#tally.set(key, count);
    else this.#tally.delete(key);
  }
}

interface ProposalEntry {
  proposal: Proposal;
  hash: string;
  /** The driver's verdict on the block; undefined while it does not have the block. */
  valid: boolean | undefined;
}

/** Everything received for one round of the current height. */
class RoundState {
  /** Arrival order; only from proposer(h, r); more than one means that proposer equivocates. */
  readonly proposals: ProposalEntry[] = [];
  readonly prevotes: VoteSet;
  readonly precommits: VoteSet;
  /** Validators with any message in this round: the f+1 of the round skip (line 55). */
  readonly senders = new Set<string>();
  /** The "for the first time" of lines 34, 36 and 47. */
  prevoteTimeoutScheduled = false;
  polkaHandled = false;
  precommitTimeoutScheduled = false;

  constructor(maxConflicting: number) {
    this.prevotes = new VoteSet(maxConflicting);
    this.precommits = new VoteSet(maxConflicting);
  }

  get empty(): boolean {
    return this.senders.size === 0;
  }
}

type Buffered = { kind: 'vote'; vote: Vote } | { kind: 'proposal'; proposal: Proposal; valid: boolean | undefined };

function isSafeUint(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

// The driver decodes with @medledger/types, so these hold for real input; the checks keep a
// driver bug from turning into a confusing state (a NaN round never equals anything).
function wellFormedVote(v: Vote): boolean {
  return (
    (v.type === VoteType.Prevote || v.type === VoteType.Precommit) &&
    isSafeUint(v.height) &&
    v.height >= 1 &&
    isSafeUint(v.round) &&
    (v.blockHash === null || v.blockHash instanceof Uint8Array) &&
    v.validator instanceof Uint8Array
  );
}

function wellFormedProposal(p: Proposal): boolean {
  return (
    isSafeUint(p.height) &&
    p.height >= 1 &&
    isSafeUint(p.round) &&
    Number.isSafeInteger(p.polRound) &&
    // A POL round must be an earlier round (line 28: vr < round_p) or -1 (line 22).
    p.polRound >= -1 &&
    p.polRound < p.round &&
    p.blockHash instanceof Uint8Array &&
    p.proposer instanceof Uint8Array
  );
}

export class TendermintEngine implements ConsensusEngine {
  readonly #limits: EngineLimits;

  #started = false;
  #height = 0;
  #round = 0;
  #step: Step = Step.Propose;
  #decided = false;

  #validators: Uint8Array[] = [];
  #members = new Set<string>();
  /** Our address in hex while we are in the validator set; null when following. */
  #self: string | null = null;
  #q = 1;
  #f = 0;
  #timeouts: TimeoutParams = defaultTimeoutParams;

  #lockedValue: Uint8Array | null = null;
  #lockedRound = -1;
  #validValue: Uint8Array | null = null;
  #validRound = -1;

  #rounds = new Map<number, RoundState>();
  /** Per validator, the rounds above the current one it has messages in (ascending, bounded). */
  #future = new Map<string, number[]>();
  /** Validators already reported for equivocation at this height. */
  #evidence = new Set<string>();

  /** Messages for height + 1, in arrival order, replayed by startHeight(height + 1). */
  #next: Buffered[] = [];
  #nextIndex = new Map<string, Buffered>();
  #nextCount = new Map<string, number>();

  /** Per validator, the highest height it sent a message for (above ours). */
  #claims = new Map<string, number>();
  #behindSent = 0;

  #out: EngineAction[] = [];
  #inputKept = false;

  constructor(limits: Partial<EngineLimits> = {}) {
    const merged = { ...defaultEngineLimits, ...limits };
    validateEngineLimits(merged);
    this.#limits = merged;
  }

  get height(): number {
    return this.#height;
  }

  get round(): number {
    return this.#round;
  }

  get step(): Step {
    return this.#step;
  }

  /** True once this height is decided; inputs for it are ignored until startHeight(h + 1). */
  get decided(): boolean {
    return this.#decided;
  }

  get lockedRound(): number {
    return this.#lockedRound;
  }

  get lockedValue(): Uint8Array | null {
    return this.#lockedValue;
  }

  get validRound(): number {
    return this.#validRound;
  }

  get validValue(): Uint8Array | null {
    return this.#validValue;
  }

  /** Read-only: who sent what in `round` of the current height, to explain a stalled round in the logs. */
  roundVoters(round: number = this.#round): RoundVoters {
    const rs = this.#rounds.get(round);
    return {
      height: this.#height,
      round,
      validators: this.#validators.map(toHex),
      proposal: (rs?.proposals.length ?? 0) > 0,
      prevotes: rs?.prevotes.voters() ?? [],
      precommits: rs?.precommits.voters() ?? [],
    };
  }

  /** What the engine holds, for metrics (and the tests of its memory bounds). O(rounds). */
  get stats(): { rounds: number; votes: number; proposals: number; nextHeightMessages: number } {
    let votes = 0;
    let proposals = 0;
    for (const rs of this.#rounds.values()) {
      votes += rs.prevotes.votes + rs.precommits.votes;
      proposals += rs.proposals.length;
    }
    return { rounds: this.#rounds.size, votes, proposals, nextHeightMessages: this.#next.length };
  }

  startHeight(height: number, opts: EngineOptions): EngineAction[] {
    if (!Number.isSafeInteger(height) || height < 1) {
      throw consensusError(ConsensusErrorCode.INVALID_OPTIONS, `height must be an integer >= 1, got ${height}`, {
        height,
      });
    }
    // Re-entering a height would reset lockedValue/lockedRound: a validator that precommitted v
    // could then prevote and precommit another value in a later round of the same height.
    if (this.#started && height <= this.#height) {
      throw consensusError(
        ConsensusErrorCode.HEIGHT_NOT_INCREASING,
        `cannot start height ${height}: already at ${this.#height}`,
        { height, current: this.#height },
      );
    }
    const validators = sortValidators(opts.validators ?? []);
    const members = new Set<string>();
    for (const v of validators) {
      if (!(v instanceof Uint8Array) || v.length === 0) {
        throw consensusError(ConsensusErrorCode.INVALID_OPTIONS, 'validators: expected non-empty byte arrays');
      }
      const hex = toHex(v);
      if (members.has(hex)) {
        throw consensusError(ConsensusErrorCode.INVALID_OPTIONS, `validators: duplicate address ${hex}`, {
          validator: hex,
        });
      }
      members.add(hex);
    }
    if (validators.length === 0) {
      throw consensusError(ConsensusErrorCode.INVALID_OPTIONS, 'validators: the set is empty');
    }
    validateTimeoutParams(opts.timeouts);

    return this.#run(() => {
      const replay = this.#started && height === this.#height + 1 ? this.#next : [];
      this.#started = true;
      this.#height = height;
      this.#validators = validators;
      this.#members = members;
      // A node removed from the set keeps following the chain.
      const self = opts.self ? toHex(opts.self) : null;
      this.#self = self !== null && members.has(self) ? self : null;
      this.#q = quorum(validators.length);
      this.#f = maxFaulty(validators.length);
      this.#timeouts = { ...opts.timeouts };
      // Line 53: reset locks and valid values, empty the message log.
      this.#decided = false;
      this.#lockedValue = null;
      this.#lockedRound = -1;
      this.#validValue = null;
      this.#validRound = -1;
      this.#rounds = new Map();
      this.#future = new Map();
      this.#evidence = new Set();
      this.#next = [];
      this.#nextIndex = new Map();
      this.#nextCount = new Map();
      const claims = new Map<string, number>();
      for (const [who, h] of this.#claims) if (h > height && members.has(who)) claims.set(who, h);
      this.#claims = claims;
      this.#behindSent = height;

      this.#startRound(0);
      this.#settle();
      for (const m of replay) {
        if (m.kind === 'vote') this.#vote(m.vote);
        else this.#proposal(m.proposal, m.valid);
      }
      this.#checkBehind();
    });
  }

  onProposal(proposal: Proposal, valid: boolean | undefined): EngineAction[] {
    return this.#run(() => this.#proposal(proposal, valid));
  }

  onVote(vote: Vote): EngineAction[] {
    return this.#run(() => this.#vote(vote));
  }

  get inputKept(): boolean {
    return this.#inputKept;
  }

  holds(validator: Uint8Array, round: number): boolean {
    return round <= this.#round || (this.#future.get(toHex(validator))?.includes(round) ?? false);
  }

  onTimeout(step: Step, height: number, round: number): EngineAction[] {
    return this.#run(() => {
      if (!this.#started || this.#decided || height !== this.#height || round !== this.#round) return;
      if (step === Step.Propose) {
        // Lines 57-60.
        if (this.#step !== Step.Propose) return;
        this.#broadcast(VoteType.Prevote, null);
        this.#step = Step.Prevote;
      } else if (step === Step.Prevote) {
        // Lines 61-64.
        if (this.#step !== Step.Prevote) return;
        this.#broadcast(VoteType.Precommit, null);
        this.#step = Step.Precommit;
      } else if (step === Step.Precommit) {
        // Lines 65-67.
        this.#startRound(round + 1);
      } else {
        return;
      }
      this.#settle();
    });
  }

  #run(body: () => void): EngineAction[] {
    const out: EngineAction[] = [];
    this.#out = out;
    this.#inputKept = false;
    try {
      body();
    } finally {
      this.#out = [];
    }
    return out;
  }

  #vote(v: Vote): void {
    if (!this.#started || !wellFormedVote(v) || v.height < this.#height) return;
    const who = toHex(v.validator);
    if (!this.#members.has(who)) return;
    const key = hashKey(v.blockHash);
    if (v.height > this.#height) {
      this.#noteHeight(who, v.height);
      if (v.height === this.#height + 1) this.#buffer(who, `v|${v.type}|${v.round}|${key}`, { kind: 'vote', vote: v });
      return;
    }
    if (this.#decided || !this.#admit(who, v.round)) return;
    const rs = this.#roundState(v.round);
    const set = v.type === VoteType.Prevote ? rs.prevotes : rs.precommits;
    const added = set.add(who, key, v);
    if (added === Added.Duplicate) return;
    if (added !== Added.New) {
      // Equivocation: reported once per validator and height. The validator stays one sender;
      // its signed vote still counts for the value it names (see VoteSet), unless over the bound.
      this.#equivocation(set.first(who)!, v);
      if (added === Added.ConflictDropped) return;
    }
    this.#inputKept = true;
    rs.senders.add(who);
    // Line 49, for any round r (not only round_p) and without requiring the proposal.
    if (v.type === VoteType.Precommit && v.blockHash !== null && set.count(key) >= this.#q) {
      this.#decide(v.round, rs, v.blockHash);
      return;
    }
    this.#maybeSkip(v.round, rs);
    this.#settle();
  }

  #proposal(p: Proposal, valid: boolean | undefined): void {
    if (!this.#started || !wellFormedProposal(p) || p.height < this.#height) return;
    const who = toHex(p.proposer);
    if (!this.#members.has(who)) return;
    const hash = toHex(p.blockHash);
    if (p.height > this.#height) {
      this.#noteHeight(who, p.height);
      if (p.height === this.#height + 1) {
        this.#buffer(who, `p|${p.round}|${p.polRound}|${hash}`, { kind: 'proposal', proposal: p, valid });
      }
      return;
    }
    if (this.#decided) return;
    // "from proposer(h_p, round_p)" (lines 22, 28, 36, 49).
    if (!bytesEqual(p.proposer, proposerInSorted(this.#validators, this.#height, p.round))) return;
    if (!this.#admit(who, p.round)) return;
    const rs = this.#roundState(p.round);
    const existing = rs.proposals.find((e) => e.hash === hash && e.proposal.polRound === p.polRound);
    if (existing) {
      // The same proposal again: only the first verdict on its block counts.
      if (existing.valid !== undefined || valid === undefined) return;
      existing.valid = valid;
    } else {
      if (rs.proposals.length >= this.#limits.maxProposalsPerRound) return;
      this.#inputKept = true;
      rs.proposals.push({ proposal: p, hash, valid });
      rs.senders.add(who);
      this.#maybeSkip(p.round, rs);
    }
    this.#settle();
  }

  /** StartRound(round), lines 11-21. */
  #startRound(round: number): void {
    this.#round = round;
    this.#step = Step.Propose;
    this.#pruneFuture();
    if (this.#self !== null && toHex(proposerInSorted(this.#validators, this.#height, round)) === this.#self) {
      // Lines 14-19: re-propose validValue with its POL round, or ask the driver for a block.
      this.#emit({
        kind: 'propose',
        height: this.#height,
        round,
        validRound: this.#validRound,
        validValue: this.#validValue,
      });
    }
    this.#schedule(Step.Propose, round);
  }

  /** Re-evaluates the rules of round_p until none fires. */
  #settle(): void {
    while (!this.#decided) {
      const rs = this.#roundState(this.#round);
      if (this.#step === Step.Propose && this.#prevoteOnProposal(rs)) continue;
      if (STEP_ORDER[this.#step] >= STEP_ORDER.prevote && !rs.polkaHandled) {
        // Lines 36-43: a valid proposal and a polka for it in round_p, the first time.
        const entry = rs.proposals.find((e) => e.valid === true && rs.prevotes.count(e.hash) >= this.#q);
        if (entry) {
          rs.polkaHandled = true;
          const v = entry.proposal.blockHash;
          if (this.#step === Step.Prevote) {
            this.#lockedValue = v;
            this.#lockedRound = this.#round;
            this.#broadcast(VoteType.Precommit, v);
            this.#step = Step.Precommit;
          }
          this.#validValue = v;
          this.#validRound = this.#round;
          continue;
        }
      }
      if (this.#step === Step.Prevote && rs.prevotes.count(NIL) >= this.#q) {
        // Lines 44-46.
        this.#broadcast(VoteType.Precommit, null);
        this.#step = Step.Precommit;
        continue;
      }
      if (this.#step === Step.Prevote && !rs.prevoteTimeoutScheduled && rs.prevotes.size >= this.#q) {
        // Lines 34-35.
        rs.prevoteTimeoutScheduled = true;
        this.#schedule(Step.Prevote, this.#round);
      }
      if (!rs.precommitTimeoutScheduled && rs.precommits.size >= this.#q) {
        // Lines 47-48 (any step).
        rs.precommitTimeoutScheduled = true;
        this.#schedule(Step.Precommit, this.#round);
      }
      return;
    }
  }

  /** Lines 22-33, while step = propose. Returns true if we prevoted. */
  #prevoteOnProposal(rs: RoundState): boolean {
    for (const e of rs.proposals) {
      if (e.valid === undefined) continue;
      const v = e.proposal.blockHash;
      const vr = e.proposal.polRound;
      const lockedOnV = this.#lockedValue !== null && bytesEqual(this.#lockedValue, v);
      let forV: boolean;
      if (vr === -1) {
        // Line 23.
        forV = e.valid && (this.#lockedRound === -1 || lockedOnV);
      } else if (vr < this.#round && (this.#rounds.get(vr)?.prevotes.count(e.hash) ?? 0) >= this.#q) {
        // Lines 28-29: the proposal carries a POL from round vr, and we have seen that polka.
        forV = e.valid && (this.#lockedRound <= vr || lockedOnV);
      } else {
        // A POL round whose polka we have not seen (yet): wait, as the paper does.
        continue;
      }
      this.#broadcast(VoteType.Prevote, forV ? v : null);
      this.#step = Step.Prevote;
      return true;
    }
    return false;
  }

  /** Line 55: f+1 validators have sent something for a round above ours. */
  #maybeSkip(round: number, rs: RoundState): void {
    // Invariant: after every input no round above round_p has f+1 senders, so checking the
    // round that just grew is enough (and it is then the highest such round).
    if (round > this.#round && rs.senders.size >= this.#f + 1) this.#startRound(round);
  }

  /** Lines 49-54 (the move to h + 1 is the driver's startHeight). */
  #decide(round: number, rs: RoundState, blockHash: Uint8Array): void {
    this.#decided = true;
    const precommits = rs.precommits.votesFor(toHex(blockHash)).sort((a, b) => compareBytes(a.validator, b.validator));
    this.#emit({ kind: 'decide', height: this.#height, round, blockHash, precommits });
  }

  /**
   * One `evidence` action per validator and height: it proves the misbehaviour, and a validator
   * that equivocates in round after round must not make every node put a tx on chain for each.
   */
  #equivocation(first: Vote, second: Vote): void {
    const who = toHex(first.validator);
    if (this.#evidence.has(who)) return;
    this.#evidence.add(who);
    this.#emit({ kind: 'evidence', voteA: first, voteB: second });
  }

  /**
   * Whether a message from `who` for `round` may be stored. Rounds up to ours are always kept
   * (lines 28 and 49 look back); rounds above are bounded per validator, keeping the highest.
   */
  #admit(who: string, round: number): boolean {
    if (round <= this.#round) return true;
    let rounds = this.#future.get(who);
    if (!rounds) {
      rounds = [];
      this.#future.set(who, rounds);
    }
    if (rounds.includes(round)) return true;
    if (rounds.length >= this.#limits.maxFutureRoundsPerValidator) {
      const lowest = rounds[0]!;
      if (round < lowest) return false;
      rounds.shift();
      this.#forget(who, lowest);
    }
    let i = rounds.length;
    while (i > 0 && rounds[i - 1]! > round) i--;
    rounds.splice(i, 0, round);
    return true;
  }

  /** Drops everything `who` sent for a future round (it went over its bound). */
  #forget(who: string, round: number): void {
    const rs = this.#rounds.get(round);
    if (!rs) return;
    rs.prevotes.remove(who);
    rs.precommits.remove(who);
    for (let i = rs.proposals.length - 1; i >= 0; i--) {
      if (toHex(rs.proposals[i]!.proposal.proposer) === who) rs.proposals.splice(i, 1);
    }
    rs.senders.delete(who);
    if (rs.empty) this.#rounds.delete(round);
  }

  #pruneFuture(): void {
    for (const [who, rounds] of this.#future) {
      while (rounds.length > 0 && rounds[0]! <= this.#round) rounds.shift();
      if (rounds.length === 0) this.#future.delete(who);
    }
  }

  #roundState(round: number): RoundState {
    let rs = this.#rounds.get(round);
    if (!rs) {
      rs = new RoundState(this.#limits.maxConflictingVotesPerSlot);
      this.#rounds.set(round, rs);
    }
    return rs;
  }

  /** Keeps a message for height + 1 (bounded per validator, duplicates folded). */
  #buffer(who: string, key: string, msg: Buffered): void {
    const id = `${who}|${key}`;
    const existing = this.#nextIndex.get(id);
    if (existing) {
      if (existing.kind === 'proposal' && msg.kind === 'proposal' && existing.valid === undefined) {
        existing.valid = msg.valid;
      }
      return;
    }
    const count = this.#nextCount.get(who) ?? 0;
    if (count >= this.#limits.maxNextHeightMessagesPerValidator) return;
    this.#inputKept = true;
    this.#nextCount.set(who, count + 1);
    this.#nextIndex.set(id, msg);
    this.#next.push(msg);
  }

  #noteHeight(who: string, height: number): void {
    if (height <= (this.#claims.get(who) ?? 0)) return;
    this.#claims.set(who, height);
    this.#checkBehind();
  }

  /**
   * Emits `behind` with the highest height H such that f+1 validators sent messages for H or
   * above: at least one of them is honest, so heights below H are decided. Once per value.
   */
  #checkBehind(): void {
    const need = this.#f + 1;
    if (this.#claims.size < need) return;
    const heights = [...this.#claims.values()].filter((h) => h > this.#height).sort((a, b) => b - a);
    if (heights.length < need) return;
    const target = heights[need - 1]!;
    if (target <= this.#behindSent) return;
    // Decided at h and the others are at h + 1: not behind, the driver is about to move on.
    if (this.#decided && target === this.#height + 1) return;
    this.#behindSent = target;
    this.#emit({ kind: 'behind', height: target });
  }

  /** "broadcast": a vote for the driver to sign and send; it comes back through onVote. */
  #broadcast(type: VoteType, blockHash: Uint8Array | null): void {
    if (this.#self === null) return;
    this.#emit({ kind: 'vote', type, height: this.#height, round: this.#round, blockHash });
  }

  #schedule(step: Step, round: number): void {
    this.#emit({
      kind: 'schedule-timeout',
      step,
      height: this.#height,
      round,
      durationMs: timeoutFor(step, round, this.#timeouts),
    });
  }

  #emit(action: EngineAction): void {
    this.#out.push(action);
  }
}

/** A fresh engine; call startHeight before anything else (inputs before it are ignored). */
export function createConsensusEngine(limits: Partial<EngineLimits> = {}): TendermintEngine {
  return new TendermintEngine(limits);
}
