import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MedLedgerError, VoteType } from '@medledger/types';
import { ConsensusErrorCode, createConsensusEngine, Step, type TendermintEngine } from '../src/index.js';
import { addr, find, hash, kinds, onlyVote, options, precommit, prevote, proposal, votesIn } from './helpers.js';

// n = 4 (q = 3, f = 1), height 1: proposer(1, r) is validator (1 + r) % 4, so validator 0 (self
// in most tests) proposes in round 3, and validators 1, 2, 3 in rounds 0, 1, 2.
const N = 4;
const v = hash(1);
const w = hash(2);

function started(self: number | null = 0): TendermintEngine {
  const e = createConsensusEngine();
  e.startHeight(1, options(N, self));
  return e;
}

/** Ends round r with nil precommits from the other three, then fires the precommit timeout. */
function endRoundNil(e: TendermintEngine, r: number): void {
  for (const i of [1, 2, 3]) e.onVote(precommit(i, 1, r, null));
  e.onTimeout(Step.Precommit, 1, r);
  assert.equal(e.round, r + 1);
}

/** Round 0: proposal v, we prevote v, a polka for v, we lock and precommit v. */
function lockOnVInRound0(e: TendermintEngine): void {
  e.onProposal(proposal(N, 1, 0, v), true);
  e.onVote(prevote(0, 1, 0, v));
  e.onVote(prevote(1, 1, 0, v));
  const a = e.onVote(prevote(2, 1, 0, v));
  assert.deepEqual(onlyVote(a).blockHash, v);
  assert.equal(e.lockedRound, 0);
}

test('happy path: proposal, prevote, polka, lock, precommit, decide with the 2f+1 certificate', () => {
  const e = createConsensusEngine();
  const start = e.startHeight(1, options(N, 0));
  assert.deepEqual(start, [{ kind: 'schedule-timeout', step: 'propose', height: 1, round: 0, durationMs: 1000 }]);
  const pv = onlyVote(e.onProposal(proposal(N, 1, 0, v), true));
  assert.deepEqual(pv, { kind: 'vote', type: VoteType.Prevote, height: 1, round: 0, blockHash: v });
  assert.equal(e.step, Step.Prevote);
  assert.deepEqual(e.onVote(prevote(0, 1, 0, v)), []);
  assert.deepEqual(e.onVote(prevote(3, 1, 0, v)), []);
  const pc = e.onVote(prevote(2, 1, 0, v));
  assert.deepEqual(pc, [{ kind: 'vote', type: VoteType.Precommit, height: 1, round: 0, blockHash: v }]);
  assert.equal(e.step, Step.Precommit);
  assert.deepEqual(e.lockedValue, v);
  assert.equal(e.validRound, 0);
  e.onVote(precommit(3, 1, 0, v));
  e.onVote(precommit(0, 1, 0, v));
  const d = find(e.onVote(precommit(1, 1, 0, v)), 'decide');
  assert.ok(d);
  assert.equal(d.height, 1);
  assert.equal(d.round, 0);
  assert.deepEqual(d.blockHash, v);
  // Exactly 2f+1 precommits, sorted by validator address.
  assert.deepEqual(
    d.precommits.map((p) => p.validator[0]),
    [1, 2, 4],
  );
  assert.ok(e.decided);
  // After the decision the height is closed: no more actions for it.
  assert.deepEqual(e.onVote(precommit(2, 1, 0, v)), []);
  assert.deepEqual(e.onTimeout(Step.Precommit, 1, 0), []);
});

test('n = 1: the lone validator proposes, votes for itself and decides', () => {
  const e = createConsensusEngine();
  const a = e.startHeight(1, options(1, 0));
  const p = find(a, 'propose');
  assert.deepEqual(p, { kind: 'propose', height: 1, round: 0, validRound: -1, validValue: null });
  const pv = onlyVote(e.onProposal({ ...proposal(1, 1, 0, v), proposer: addr(0) }, true));
  const pc = onlyVote(e.onVote(prevote(0, 1, 0, pv.blockHash)));
  assert.equal(pc.type, VoteType.Precommit);
  const d = find(e.onVote(precommit(0, 1, 0, pc.blockHash)), 'decide');
  assert.ok(d);
  assert.equal(d.precommits.length, 1);
});

test('our own vote fed back twice (driver and gossip echo) counts once', () => {
  const e = started();
  e.onProposal(proposal(N, 1, 0, v), true);
  e.onVote(prevote(0, 1, 0, v));
  assert.deepEqual(e.onVote(prevote(0, 1, 0, v)), []);
  assert.deepEqual(e.onVote(prevote(1, 1, 0, v)), [], 'two distinct prevotes are not a polka');
  assert.equal(votesIn(e.onVote(prevote(2, 1, 0, v))).length, 1);
  assert.equal(e.stats.votes, 3);
});

test('a proposal whose block is not yet known is held, then acted on when the verdict arrives', () => {
  const e = started();
  assert.deepEqual(e.onProposal(proposal(N, 1, 0, v), undefined), []);
  assert.equal(e.step, Step.Propose);
  assert.deepEqual(onlyVote(e.onProposal(proposal(N, 1, 0, v), true)).blockHash, v);
  // A second verdict for the same proposal changes nothing.
  assert.deepEqual(e.onProposal(proposal(N, 1, 0, v), false), []);

  const bad = started();
  bad.onProposal(proposal(N, 1, 0, v), undefined);
  assert.equal(onlyVote(bad.onProposal(proposal(N, 1, 0, v), false)).blockHash, null, 'invalid block: prevote nil');
});

test('a proposal from anyone but proposer(h, r), or with a POL round >= its round, is ignored', () => {
  const e = started();
  assert.deepEqual(e.onProposal({ ...proposal(N, 1, 0, v), proposer: addr(2) }, true), []);
  assert.deepEqual(e.onProposal(proposal(N, 1, 0, v, 0), true), []);
  assert.equal(e.stats.proposals, 0);
  // Nor does it count towards the round skip: one real message at round 2 is only one sender.
  e.onProposal({ ...proposal(N, 1, 2, v), proposer: addr(1) }, true);
  e.onVote(prevote(1, 1, 2, null));
  assert.equal(e.round, 0);
});

test('votes from non-validators and for old heights are ignored', () => {
  const e = createConsensusEngine();
  e.startHeight(1, options(N, 0));
  e.onVote(precommit(1, 1, 0, v));
  e.onVote(precommit(2, 1, 0, v));
  assert.deepEqual(e.onVote(precommit(9, 1, 0, v)), [], 'validator 9 is not in the set');
  assert.equal(e.decided, false);
  e.onVote(precommit(3, 1, 0, v));
  assert.ok(e.decided);
  e.startHeight(2, options(N, 0));
  assert.deepEqual(e.onVote(precommit(1, 1, 0, v)), []);
  assert.deepEqual(e.onProposal(proposal(N, 1, 0, v), true), []);
  assert.equal(e.stats.votes, 0);
});

test('locked validator prevotes nil for a different value without a POL it has seen', () => {
  const e = started();
  lockOnVInRound0(e);
  endRoundNil(e, 0);
  // Round 1: proposer 2 proposes w as a fresh value (line 23: locked on v, so nil).
  assert.equal(onlyVote(e.onProposal(proposal(N, 1, 1, w), true)).blockHash, null);
  endRoundNil(e, 1);
  // Round 2: w claims a POL from round 0, where we saw a polka for v, not w: no rule fires
  // (line 28 needs 2f+1 prevotes for w in round 0), so we wait for the timeout and prevote nil.
  assert.deepEqual(votesIn(e.onProposal(proposal(N, 1, 2, w, 0), true)), []);
  assert.equal(onlyVote(e.onTimeout(Step.Propose, 1, 2)).blockHash, null);
  endRoundNil(e, 2);
  // Round 3 is ours (validator 0): we re-propose the value we hold as valid, with its POL round.
  // (e.round is 3 and our propose action was emitted by the precommit timeout of round 2.)
  assert.equal(e.validRound, 0);
  assert.deepEqual(e.lockedValue, v);
});

test('locked validator prevotes for its locked value when it is proposed again, even with no POL', () => {
  const e = started();
  lockOnVInRound0(e);
  endRoundNil(e, 0);
  assert.deepEqual(onlyVote(e.onProposal(proposal(N, 1, 1, v), true)).blockHash, v);
});

test('locked validator prevotes a re-proposal whose POL round is >= its locked round', () => {
  const e = started();
  lockOnVInRound0(e);
  endRoundNil(e, 0);
  // Round 1: no proposal reaches us, but the others form a polka for w.
  for (const i of [1, 2, 3]) e.onVote(prevote(i, 1, 1, w));
  assert.equal(onlyVote(e.onTimeout(Step.Propose, 1, 1)).blockHash, null);
  assert.equal(e.lockedRound, 0, 'without the proposal for w we cannot lock on it');
  endRoundNil(e, 1);
  // Round 2: w is re-proposed with POL round 1 >= lockedRound 0: prevote w (lines 28-30).
  assert.deepEqual(onlyVote(e.onProposal(proposal(N, 1, 2, w, 1), true)).blockHash, w);
});

test('locked validator prevotes nil for a re-proposal whose POL round is below its locked round', () => {
  const e = started();
  // Round 0: a polka for w that we see, but no proposal for w: we do not lock on it.
  for (const i of [1, 2, 3]) e.onVote(prevote(i, 1, 0, w));
  e.onTimeout(Step.Propose, 1, 0);
  endRoundNil(e, 0);
  // Round 1: lock on v.
  e.onProposal(proposal(N, 1, 1, v), true);
  for (const i of [0, 1, 2]) e.onVote(prevote(i, 1, 1, v));
  assert.equal(e.lockedRound, 1);
  endRoundNil(e, 1);
  // Round 2: w with POL round 0 < lockedRound 1: nil (line 32).
  assert.equal(onlyVote(e.onProposal(proposal(N, 1, 2, w, 0), true)).blockHash, null);
});

test('a polka for a proposed value locks us even if we prevoted nil (line 36 needs step >= prevote)', () => {
  const e = started();
  lockOnVInRound0(e);
  endRoundNil(e, 0);
  assert.equal(onlyVote(e.onProposal(proposal(N, 1, 1, w), true)).blockHash, null);
  e.onVote(prevote(1, 1, 1, w));
  e.onVote(prevote(2, 1, 1, w));
  const pc = onlyVote(e.onVote(prevote(3, 1, 1, w)));
  assert.equal(pc.type, VoteType.Precommit);
  assert.deepEqual(pc.blockHash, w);
  assert.equal(e.lockedRound, 1);
  assert.deepEqual(e.lockedValue, w);
});

test('in the precommit step a polka only updates validValue, it does not lock', () => {
  const e = started();
  // No proposal yet: prevote nil on the timeout; a polka for v forms, but without the proposal
  // line 36 cannot fire, so the prevote timeout makes us precommit nil.
  e.onTimeout(Step.Propose, 1, 0);
  for (const i of [1, 2, 3]) e.onVote(prevote(i, 1, 0, v));
  assert.equal(onlyVote(e.onTimeout(Step.Prevote, 1, 0)).blockHash, null);
  assert.equal(e.step, Step.Precommit);
  // The proposal arrives late: lines 36-43 with step = precommit set validValue only.
  assert.deepEqual(votesIn(e.onProposal(proposal(N, 1, 0, v), true)), []);
  assert.equal(e.lockedRound, -1);
  assert.equal(e.validRound, 0);
  assert.deepEqual(e.validValue, v);
});

test('nil polka: precommit nil; 2f+1 mixed prevotes: prevote timeout, then precommit nil', () => {
  const e = started();
  e.onTimeout(Step.Propose, 1, 0);
  e.onVote(prevote(1, 1, 0, null));
  const a = e.onVote(prevote(2, 1, 0, null));
  assert.deepEqual(kinds(a), []);
  assert.equal(onlyVote(e.onVote(prevote(3, 1, 0, null))).blockHash, null);

  const m = started();
  m.onTimeout(Step.Propose, 1, 0);
  m.onVote(prevote(0, 1, 0, null));
  m.onVote(prevote(1, 1, 0, v));
  const s = m.onVote(prevote(2, 1, 0, w));
  assert.deepEqual(s, [{ kind: 'schedule-timeout', step: 'prevote', height: 1, round: 0, durationMs: 500 }]);
  assert.deepEqual(m.onVote(prevote(3, 1, 0, null)), [], 'the prevote timeout is scheduled once');
  const pc = onlyVote(m.onTimeout(Step.Prevote, 1, 0));
  assert.equal(pc.type, VoteType.Precommit);
  assert.equal(pc.blockHash, null);
});

test('timeouts act only in their own height, round and step', () => {
  const e = started();
  assert.deepEqual(e.onTimeout(Step.Prevote, 1, 0), [], 'still in propose');
  assert.deepEqual(e.onTimeout(Step.Propose, 1, 1), [], 'another round');
  assert.deepEqual(e.onTimeout(Step.Propose, 2, 0), [], 'another height');
  assert.equal(onlyVote(e.onTimeout(Step.Propose, 1, 0)).type, VoteType.Prevote);
  assert.deepEqual(e.onTimeout(Step.Propose, 1, 0), [], 'fired once');
  // 2f+1 precommits of any kind schedule the precommit timeout, in any step (lines 47-48).
  e.onVote(precommit(1, 1, 0, null));
  e.onVote(precommit(2, 1, 0, w));
  const a = e.onVote(precommit(3, 1, 0, null));
  assert.deepEqual(a, [{ kind: 'schedule-timeout', step: 'precommit', height: 1, round: 0, durationMs: 500 }]);
  assert.equal(e.step, Step.Prevote);
  const next = e.onTimeout(Step.Precommit, 1, 0);
  assert.equal(e.round, 1);
  assert.equal(e.step, Step.Propose);
  assert.deepEqual(next, [{ kind: 'schedule-timeout', step: 'propose', height: 1, round: 1, durationMs: 1500 }]);
});

test('round skip on f+1 messages of any kind from distinct validators at a higher round (line 55)', () => {
  const e = started();
  assert.deepEqual(e.onVote(prevote(1, 1, 5, v)), []);
  assert.deepEqual(e.onVote(precommit(1, 1, 5, null)), [], 'the same validator twice is one sender');
  assert.equal(e.round, 0);
  const a = e.onVote(precommit(2, 1, 5, null));
  assert.equal(e.round, 5);
  assert.equal(e.step, Step.Propose);
  assert.deepEqual(a, [{ kind: 'schedule-timeout', step: 'propose', height: 1, round: 5, durationMs: 3500 }]);

  // A proposal counts as a message from its proposer.
  const p = started();
  p.onProposal(proposal(N, 1, 2, v), true); // from validator 3, the proposer of round 2
  const b = p.onVote(prevote(1, 1, 2, v));
  assert.equal(p.round, 2);
  // Round 2 already holds the proposal: we prevote it at once.
  assert.deepEqual(onlyVote(b).blockHash, v);
});

test('decide on 2f+1 precommits for a hash without the proposal, in a round we have left', () => {
  const e = started();
  endRoundNil(e, 0);
  e.onTimeout(Step.Propose, 1, 1);
  for (const i of [1, 2]) e.onVote(precommit(i, 1, 1, w));
  assert.equal(e.decided, false);
  const d = find(e.onVote(precommit(3, 1, 1, w)), 'decide');
  assert.ok(d);
  assert.equal(d.round, 1);
  assert.deepEqual(d.blockHash, w);
  assert.equal(d.precommits.length, 3);

  // Also for a round above ours: the decision does not wait for the round skip.
  const f = started();
  for (const i of [1, 2, 3]) f.onVote(precommit(i, 1, 7, v));
  assert.ok(f.decided);
});

test('equivocation: one evidence action per validator and height; each signed vote counts once, for its own value', () => {
  const e = started();
  e.onProposal(proposal(N, 1, 0, w), true);
  e.onVote(prevote(0, 1, 0, w));
  assert.deepEqual(e.onVote(prevote(1, 1, 0, v)), []);
  const a = e.onVote(prevote(1, 1, 0, w));
  const ev = find(a, 'evidence');
  assert.ok(ev);
  assert.deepEqual(ev.voteA.blockHash, v);
  assert.deepEqual(ev.voteB.blockHash, w);
  assert.deepEqual(kinds(a), ['evidence']);
  assert.deepEqual(e.onVote(prevote(1, 1, 0, w)), [], 'the same pair again: nothing');
  assert.deepEqual(e.onVote(prevote(1, 1, 0, null)), [], 'a third value from the same slot: no second evidence');
  // Validator 1 is one sender (2 distinct prevoters so far: no prevote timeout yet), but its
  // signed prevote for w is a prevote for w: with validator 2, w has 3 signers, a polka.
  const pc = onlyVote(e.onVote(prevote(2, 1, 0, w)));
  assert.equal(pc.type, VoteType.Precommit);
  assert.deepEqual(pc.blockHash, w);
  // A prevote and a precommit for different values are not equivocation.
  assert.deepEqual(find(e.onVote(precommit(1, 1, 0, null)), 'evidence'), undefined);
  // Validator 1 again in another round: already reported at this height. Validator 2: reported.
  e.onVote(prevote(1, 1, 1, v));
  assert.deepEqual(find(e.onVote(prevote(1, 1, 1, w)), 'evidence'), undefined);
  e.onVote(prevote(2, 1, 1, v));
  assert.ok(find(e.onVote(prevote(2, 1, 1, w)), 'evidence'));
  // At the next height validator 1 is reported again.
  e.startHeight(2, options(N, 0));
  e.onVote(prevote(1, 2, 0, v));
  assert.ok(find(e.onVote(prevote(1, 2, 0, w)), 'evidence'));
});

test('equivocation: conflicting votes kept per slot are bounded', () => {
  const e = createConsensusEngine({ maxConflictingVotesPerSlot: 1 });
  e.startHeight(1, options(N, 0));
  e.onVote(prevote(1, 1, 0, v));
  assert.equal(kinds(e.onVote(prevote(1, 1, 0, w))).length, 1);
  for (let i = 3; i < 100; i++) assert.deepEqual(e.onVote(prevote(1, 1, 0, hash(i))), []);
  assert.equal(e.stats.votes, 2);
});

test('a polka that includes an equivocator is recognised by a node that counted its other vote first', () => {
  // Found by the simulation: if the second vote were ignored, this node could never accept the
  // POL of round 0, while the validators that saw the polka stay locked on v: a livelock.
  const e = started();
  e.onTimeout(Step.Propose, 1, 0); // the proposal for v never reached us
  e.onVote(prevote(0, 1, 0, null));
  e.onVote(prevote(3, 1, 0, null)); // validator 3 tells us nil ...
  e.onVote(prevote(1, 1, 0, v));
  e.onVote(prevote(2, 1, 0, v));
  e.onTimeout(Step.Prevote, 1, 0);
  // ... and v to the others, who lock on v. Gossip brings us its prevote for v.
  const a = e.onVote(prevote(3, 1, 0, v));
  assert.ok(find(a, 'evidence'));
  endRoundNil(e, 0);
  // Round 1: validator 2 re-proposes v with POL round 0; we have 3 signers for v in round 0.
  assert.deepEqual(onlyVote(e.onProposal(proposal(N, 1, 1, v, 0), true)).blockHash, v);
});

test('messages for the next height are buffered and replayed by startHeight(h + 1)', () => {
  const e = started();
  assert.deepEqual(e.onProposal(proposal(N, 2, 0, w), undefined), []);
  e.onProposal(proposal(N, 2, 0, w), true); // the verdict for a buffered proposal is kept
  assert.deepEqual(e.onVote(prevote(2, 2, 0, w)), []);
  // Validators 2 and 3 are at height 2 while we are not decided: f+1 say height 1 is decided.
  assert.deepEqual(e.onVote(prevote(3, 2, 0, w)), [{ kind: 'behind', height: 2 }]);
  assert.equal(e.stats.nextHeightMessages, 3);
  for (const i of [1, 2, 3]) e.onVote(precommit(i, 1, 0, v));
  assert.ok(e.decided);
  const a = e.startHeight(2, options(N, 0));
  // Round 0 of height 2 (proposer 2): the replayed proposal gets our prevote, and the two
  // buffered prevotes plus ours make a polka once ours comes back.
  assert.deepEqual(onlyVote(a).blockHash, w);
  assert.deepEqual(onlyVote(e.onVote(prevote(0, 2, 0, w))).type, VoteType.Precommit);
});

test('startHeight for a height other than h + 1 drops the buffer', () => {
  const e = started();
  for (const i of [1, 2, 3]) e.onVote(precommit(i, 2, 0, v));
  e.startHeight(3, options(N, 0));
  assert.equal(e.decided, false);
  assert.equal(e.stats.votes, 0);
});

test('propose carries validValue and validRound; the re-proposal is prevoted through its POL', () => {
  const e = started();
  // Skip to round 2 (proposer 3), prevote its proposal v, lock on the polka, precommit v.
  e.onVote(prevote(1, 1, 2, v));
  e.onVote(prevote(2, 1, 2, v));
  assert.equal(e.round, 2);
  e.onProposal(proposal(N, 1, 2, v), true);
  const pc = onlyVote(e.onVote(prevote(3, 1, 2, v)));
  assert.equal(pc.type, VoteType.Precommit);
  for (const i of [1, 2, 3]) e.onVote(precommit(i, 1, 2, null));
  const a = e.onTimeout(Step.Precommit, 1, 2);
  assert.equal(e.round, 3);
  assert.deepEqual(find(a, 'propose'), { kind: 'propose', height: 1, round: 3, validRound: 2, validValue: v });
  const pv = onlyVote(e.onProposal({ ...proposal(N, 1, 3, v, 2), proposer: addr(0) }, true));
  assert.deepEqual(pv.blockHash, v);
});

test('a non-validator follows: it never proposes or votes, but it decides', () => {
  for (const self of [null, 9]) {
    const e = started(self);
    const all = [
      ...e.onProposal(proposal(N, 1, 0, v), true),
      ...[1, 2, 3].flatMap((i) => e.onVote(prevote(i, 1, 0, v))),
      ...e.onTimeout(Step.Propose, 1, 0),
    ];
    assert.deepEqual(votesIn(all), []);
    assert.equal(find(all, 'propose'), undefined);
    for (const i of [1, 2]) e.onVote(precommit(i, 1, 0, v));
    assert.ok(find(e.onVote(precommit(3, 1, 0, v)), 'decide'));
    const a = e.startHeight(2, options(N, self));
    assert.equal(find(a, 'propose'), undefined);
  }
});

test('behind: f+1 validators at a higher height, reported once per height reached', () => {
  const e = started();
  assert.deepEqual(e.onVote(prevote(1, 5, 0, v)), []);
  assert.deepEqual(e.onVote(prevote(2, 4, 0, v)), [{ kind: 'behind', height: 4 }]);
  assert.deepEqual(e.onVote(prevote(3, 4, 0, v)), [], 'still 4: f+1 are at >= 4, not at >= 5... ');
  assert.deepEqual(e.onVote(prevote(3, 5, 2, v)), [{ kind: 'behind', height: 5 }]);
  assert.deepEqual(e.onVote(precommit(1, 5, 0, v)), []);
  // Only validators count.
  const f = started();
  f.onVote(prevote(8, 3, 0, v));
  assert.deepEqual(f.onVote(prevote(9, 3, 0, v)), []);
  // Decided at h with the others at h + 1 is not behind.
  const d = started();
  for (const i of [1, 2, 3]) d.onVote(precommit(i, 1, 0, v));
  assert.deepEqual([...d.onVote(prevote(1, 2, 0, w)), ...d.onVote(prevote(2, 2, 0, w))], []);
});

test('memory stays bounded under a flood from one byzantine validator', () => {
  const e = started();
  for (let r = 1; r <= 5000; r++) {
    e.onVote(prevote(3, 1, r, hash(r)));
    e.onVote(precommit(3, 1, r, null));
  }
  // Round 0 plus at most 8 future rounds of validator 3.
  assert.ok(e.stats.rounds <= 9, `rounds ${e.stats.rounds}`);
  assert.ok(e.stats.votes <= 16);
  assert.equal(e.round, 0, 'one validator cannot move us');
  // The highest rounds are the ones kept: one honest message at round 5000 makes f+1.
  e.onVote(prevote(2, 1, 5000, null));
  assert.equal(e.round, 5000);

  for (let i = 0; i < 5000; i++) e.onVote(prevote(3, 2, i, hash(i)));
  assert.equal(e.stats.nextHeightMessages, 32);
  for (let i = 0; i < 100; i++) e.onProposal(proposal(N, 1, 5000, hash(i)), true);
  assert.ok(e.stats.proposals <= 4);
});

test('inputKept says whether a message was stored; holds follows the future rounds kept per validator', () => {
  const e = started();
  e.onVote(prevote(1, 1, 0, v));
  assert.equal(e.inputKept, true);
  e.onVote(prevote(1, 1, 0, v));
  assert.equal(e.inputKept, false, 'a duplicate');
  for (const x of [2, 3, 4]) e.onVote(prevote(1, 1, 0, hash(x)));
  assert.equal(e.inputKept, true, 'conflicting votes are kept up to the bound');
  e.onVote(prevote(1, 1, 0, hash(5)));
  assert.equal(e.inputKept, false, 'past the bound');
  e.onVote(prevote(1, 0, 0, v));
  assert.equal(e.inputKept, false, 'an old height');

  for (let r = 1; r <= 20; r++) e.onVote(prevote(3, 1, r, null));
  assert.equal(e.inputKept, true);
  assert.equal(e.holds(addr(3), 20), true);
  assert.equal(e.holds(addr(3), 12), false, 'below the 8 highest rounds');
  assert.equal(e.holds(addr(3), 13), true);
  e.onVote(prevote(3, 1, 5, null));
  assert.equal(e.inputKept, false, 'a future round below those kept');
  assert.equal(e.holds(addr(1), 0), true, 'rounds up to the current one are all kept');

  for (let i = 0; i < 40; i++) e.onVote(prevote(2, 2, i, null));
  assert.equal(e.inputKept, false, 'the next height buffer is full');
  e.onTimeout(Step.Propose, 1, 0);
  assert.equal(e.inputKept, false, 'a timeout is no message');
});

test('startHeight rejects a height it has passed, an empty or duplicate set and bad timeouts', () => {
  const e = started();
  const code = (c: string) => (err: unknown) => err instanceof MedLedgerError && err.code === c;
  assert.throws(() => e.startHeight(1, options(N, 0)), code(ConsensusErrorCode.HEIGHT_NOT_INCREASING));
  const fresh = createConsensusEngine();
  assert.throws(() => fresh.startHeight(0, options(N, 0)), code(ConsensusErrorCode.INVALID_OPTIONS));
  assert.throws(
    () => fresh.startHeight(1, { ...options(N, 0), validators: [] }),
    code(ConsensusErrorCode.INVALID_OPTIONS),
  );
  assert.throws(
    () => fresh.startHeight(1, { ...options(N, 0), validators: [addr(1), addr(1)] }),
    code(ConsensusErrorCode.INVALID_OPTIONS),
  );
  assert.throws(
    () => fresh.startHeight(1, { ...options(N, 0), timeouts: { ...options(N, 0).timeouts, capMs: NaN } }),
    code(ConsensusErrorCode.INVALID_OPTIONS),
  );
  assert.throws(() => createConsensusEngine({ maxProposalsPerRound: 0 }), code(ConsensusErrorCode.INVALID_OPTIONS));
  // Nothing happens before the first startHeight.
  assert.deepEqual(fresh.onVote(prevote(1, 1, 0, v)), []);
  assert.equal(fresh.height, 0);
});
