import type { ProposalView } from '@medledger/types';
import { addressHex } from '@medledger/crypto';
import { prefixRange, type KeyValueReader } from '@medledger/db';
import {
  assertArray,
  assertBool,
  assertBytes,
  assertRecord,
  assertString,
  assertUint,
  bytesEqual,
  decodeCanonical,
  GovActionType,
  isMedLedgerError,
  toHex,
  validateGovPropose,
  DEFAULT_CHAIN_PARAMS,
  type GovAction,
  type GovProposePayload,
  type GovVotePayload,
  type OrgRotateKeyPayload,
} from '@medledger/types';
import { TxCode, type TxResult, type Validator } from '../interface.js';
import { fail, ok, type ExecContext, type StateReader, type TxHandler } from '../context.js';
import {
  KeyRole,
  decodeChain,
  decodeKeyOwner,
  decodeValidatorSets,
  encodeEntry,
  type OrgEntry,
  type ValidatorEntry,
  type ValidatorSetEntry,
} from '../entities.js';
import { StateErrorCode, stateError } from '../errors.js';
import {
  chainKey,
  keyOwnerKey,
  keyOwnerPrefix,
  orgKey,
  proposalKey,
  proposalPrefix,
  removedOrgKey,
  validatorSetsKey,
} from '../keys.js';
import { readKeyOwner, readOrg, sortValidatorEntries } from './registry.js';

const EMPTY = new Uint8Array(0);

/**
 * Governance (ADR 0007). A member organisation proposes to add or remove a member or a
 * validator; validators vote (an organisation's org key votes for each of its validators, a
 * validator's node key for itself); the proposal passes once more than two thirds of the
 * validator set in force at the voting block said yes, and is rejected once that can no longer
 * happen. A proposal not decided within the chain's voting period (block time) expires.
 * A validator-set change decided at height h takes effect at h + 2, so the set of the next
 * height is always known when a height starts.
 */

export const ProposalStatus = {
  Open: 'open',
  Passed: 'passed',
  Rejected: 'rejected',
  Expired: 'expired',
  /** Passed, but the change could no longer be applied (e.g. the member was added meanwhile). */
  Failed: 'failed',
} as const;
export type ProposalStatus = (typeof ProposalStatus)[keyof typeof ProposalStatus];

export interface ProposalVote {
  /** The validator this vote counts for (its node key). */
  validator: Uint8Array;
  /** The organisation that cast it. */
  org: string;
  approve: boolean;
}

export interface ProposalEntry {
  id: string;
  proposer: string;
  action: GovAction;
  createdAt: number;
  height: number;
  /** Block time after which the proposal can no longer be voted on. */
  expires: number;
  votes: ProposalVote[];
  status: ProposalStatus;
  /** Tally at the last vote, against the validator set in force then. */
  yes: number;
  no: number;
  validators: number;
  decidedHeight: number | null;
  log: string;
}

export type { ProposalView };

/** More than two thirds: the same threshold as a commit (floor(2n/3) + 1). */
export const passThreshold = (n: number): number => Math.floor((2 * n) / 3) + 1;

export const submitProposal: TxHandler<'gov.propose'> = (ctx, p: GovProposePayload) => {
  if (ctx.signer?.role !== KeyRole.Org) {
    return fail(TxCode.Unauthorized, 'proposals are signed with a member organisation key');
  }
  const key = proposalKey(p.proposal);
  if (ctx.store.has(key)) return fail(TxCode.AlreadyExists, 'proposal id already used');
  // Checked now so a proposal that could never apply is refused at once; checked again on pass.
  const check = applyAction(ctx, p.action, true);
  if (check.code !== TxCode.Ok) return check;
  const entry: ProposalEntry = {
    id: p.proposal,
    proposer: ctx.signer.org,
    action: p.action,
    createdAt: ctx.time,
    height: ctx.height,
    expires: ctx.time + votingPeriod(ctx.store),
    votes: [],
    status: ProposalStatus.Open,
    yes: 0,
    no: 0,
    validators: 0,
    decidedHeight: null,
    log: '',
  };
  // Proposing is the proposer's yes when it holds validators: it would vote so anyway.
  const own = ctx.validatorsAt(ctx.height).filter((v) => v.org === ctx.signer!.org);
  castVotes(entry, own, ctx.signer.org, true);
  tally(ctx, entry);
  ctx.store.put(key, encodeGovProposal(entry));
  return ok();
};

export const voteOnProposal: TxHandler<'gov.vote'> = (ctx, p: GovVotePayload) => {
  const key = proposalKey(p.proposal);
  const bytes = ctx.store.get(key);
  if (bytes === undefined) return fail(TxCode.NotFound, 'no such proposal');
  const entry = decodeGovProposal(bytes);
  if (entry.status !== ProposalStatus.Open) return fail(TxCode.Invalid, `proposal is ${entry.status}`);
  if (ctx.time > entry.expires) return fail(TxCode.Expired, 'proposal expired');
  const validators = ctx.validatorsAt(ctx.height);
  let counted: Validator[];
  if (ctx.signer?.role === KeyRole.Org) {
    counted = validators.filter((v) => v.org === ctx.signer!.org);
  } else if (ctx.signer?.role === KeyRole.Node) {
    counted = validators.filter((v) => bytesEqual(v.pubKey, ctx.tx.from));
  } else {
    counted = [];
  }
  if (counted.length === 0 || !ctx.signer) {
    return fail(TxCode.Unauthorized, 'only validators, or the organisations that run them, vote');
  }
  castVotes(entry, counted, ctx.signer.org, p.approve);
  tally(ctx, entry);
  ctx.store.put(key, encodeGovProposal(entry));
  return ok();
};

/**
 * Rotates an organisation's org key. Signed by the current key; the new key takes over the
 * organisation from the next tx on. Accounts are per key, so the new key's nonces start at 1;
 * the old key is no longer a member key.
 */
export const rotateOrgKey: TxHandler<'org.rotateKey'> = (ctx, p: OrgRotateKeyPayload) => {
  if (ctx.signer?.role !== KeyRole.Org) return fail(TxCode.Unauthorized, 'signed with the current org key');
  if (readKeyOwner(ctx.store, p.newKey) !== undefined) return fail(TxCode.AlreadyExists, 'new key already in use');
  const org = readOrg(ctx.store, ctx.signer.org);
  if (!org) return fail(TxCode.NotFound, 'organisation not found');
  ctx.store.del(keyOwnerKey(org.orgKey));
  ctx.store.put(keyOwnerKey(p.newKey), encodeEntry({ org: org.id, role: KeyRole.Org }));
  ctx.store.put(orgKey(org.id), encodeEntry({ ...org, orgKey: p.newKey }));
  return ok();
};

function castVotes(entry: ProposalEntry, validators: readonly Validator[], org: string, approve: boolean): void {
  // A later vote for the same validator replaces the earlier one while the proposal is open.
  const byKey = new Map(entry.votes.map((v) => [toHex(v.validator), v]));
  for (const v of validators) byKey.set(toHex(v.pubKey), { validator: v.pubKey, org, approve });
  entry.votes = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** Counts the votes of the validators in force now and decides the proposal when it can. */
function tally(ctx: ExecContext, entry: ProposalEntry): void {
  const validators = ctx.validatorsAt(ctx.height);
  const inSet = new Set(validators.map((v) => toHex(v.pubKey)));
  const counted = entry.votes.filter((v) => inSet.has(toHex(v.validator)));
  const n = validators.length;
  const needed = passThreshold(n);
  entry.yes = counted.filter((v) => v.approve).length;
  entry.no = counted.length - entry.yes;
  entry.validators = n;
  if (entry.yes >= needed) {
    const applied = applyAction(ctx, entry.action, false);
    entry.status = applied.code === TxCode.Ok ? ProposalStatus.Passed : ProposalStatus.Failed;
    entry.log = applied.log;
    entry.decidedHeight = ctx.height;
  } else if (entry.no > n - needed) {
    entry.status = ProposalStatus.Rejected;
    entry.decidedHeight = ctx.height;
  }
}

/** Checks (dryRun) or applies a governance action against the block's state. */
function applyAction(ctx: ExecContext, action: GovAction, dryRun: boolean): TxResult {
  const store = ctx.store;
  switch (action.type) {
    case GovActionType.MemberAdd: {
      const o = action.org;
      if (readOrg(store, o.id)) return fail(TxCode.AlreadyExists, `organisation ${o.id} is already a member`);
      // Consents, custody, authorship and votes name the id: a newcomer must not inherit them.
      if (store.has(removedOrgKey(o.id))) {
        return fail(TxCode.AlreadyExists, `organisation id ${o.id} belonged to a removed member`);
      }
      const nodeKeys = uniqueKeys([...o.nodeKeys, ...(action.validator ? [action.validator.pubKey] : [])]);
      const keys = [o.orgKey, ...nodeKeys];
      if (uniqueKeys(keys).length !== keys.length) return fail(TxCode.Invalid, 'org key and node keys must differ');
      for (const k of keys) {
        if (readKeyOwner(store, k)) return fail(TxCode.AlreadyExists, `key ${toHex(k).slice(0, 16)}… is in use`);
      }
      if (dryRun) return ok();
      const entry: OrgEntry = { id: o.id, name: o.name, kind: o.kind, orgKey: o.orgKey, encKey: o.encKey, nodeKeys };
      store.put(orgKey(o.id), encodeEntry(entry));
      store.put(keyOwnerKey(o.orgKey), encodeEntry({ org: o.id, role: KeyRole.Org }));
      for (const k of nodeKeys) store.put(keyOwnerKey(k), encodeEntry({ org: o.id, role: KeyRole.Node }));
      if (action.validator) {
        const v = action.validator;
        changeValidatorSet(ctx, (set) => [...set, { pubKey: v.pubKey, org: o.id, name: v.name }]);
      }
      return ok();
    }
    case GovActionType.MemberRemove: {
      const org = readOrg(store, action.org);
      if (!org) return fail(TxCode.NotFound, `organisation ${action.org} is not a member`);
      const remaining = latestSet(store).filter((v) => v.org !== org.id);
      if (remaining.length === 0) return fail(TxCode.Invalid, 'would leave no validator');
      if (dryRun) return ok();
      // Its keys stop being member keys: every key it owns, listed or only a validator key.
      const owned = [org.orgKey, ...org.nodeKeys, ...allSetKeys(store)];
      for (const k of uniqueKeys(owned)) {
        if (readKeyOwner(store, k)?.org === org.id) store.del(keyOwnerKey(k));
      }
      store.del(orgKey(org.id));
      store.put(removedOrgKey(org.id), EMPTY);
      changeValidatorSet(ctx, (set) => set.filter((v) => v.org !== org.id));
      return ok();
    }
    case GovActionType.ValidatorAdd: {
      const org = readOrg(store, action.org);
      if (!org) return fail(TxCode.NotFound, `organisation ${action.org} is not a member`);
      const v = action.validator;
      const owner = readKeyOwner(store, v.pubKey);
      if (owner && (owner.org !== org.id || owner.role !== KeyRole.Node)) {
        return fail(TxCode.Invalid, 'the validator key belongs to another organisation or is an org key');
      }
      if (latestSet(store).some((x) => bytesEqual(x.pubKey, v.pubKey))) {
        return fail(TxCode.AlreadyExists, 'already a validator');
      }
      if (dryRun) return ok();
      if (!owner) {
        store.put(keyOwnerKey(v.pubKey), encodeEntry({ org: org.id, role: KeyRole.Node }));
        store.put(orgKey(org.id), encodeEntry({ ...org, nodeKeys: [...org.nodeKeys, v.pubKey] }));
      }
      changeValidatorSet(ctx, (set) => [...set, { pubKey: v.pubKey, org: org.id, name: v.name }]);
      return ok();
    }
    case GovActionType.ValidatorRemove: {
      const set = latestSet(store);
      if (!set.some((x) => bytesEqual(x.pubKey, action.pubKey))) return fail(TxCode.NotFound, 'not a validator');
      if (set.length === 1) return fail(TxCode.Invalid, 'would leave no validator');
      if (dryRun) return ok();
      changeValidatorSet(ctx, (s) => s.filter((x) => !bytesEqual(x.pubKey, action.pubKey)));
      return ok();
    }
  }
}

function readSets(store: StateReader): ValidatorSetEntry[] {
  const bytes = store.get(validatorSetsKey());
  if (bytes === undefined) throw stateError(StateErrorCode.CORRUPT, 'no validator sets in state');
  return decodeValidatorSets(bytes);
}

/** The newest set, pending ones included: changes build on what is already decided. */
function latestSet(store: StateReader): ValidatorEntry[] {
  const sets = readSets(store);
  return sets[sets.length - 1]!.validators;
}

function allSetKeys(store: StateReader): Uint8Array[] {
  return readSets(store).flatMap((s) => s.validators.map((v) => v.pubKey));
}

/** Writes the changed set with from = h + 2 (merged into an entry already pending for h + 2). */
function changeValidatorSet(ctx: ExecContext, change: (set: ValidatorEntry[]) => ValidatorEntry[]): void {
  const sets = readSets(ctx.store);
  const from = ctx.height + 2;
  const last = sets[sets.length - 1]!;
  const validators = sortValidatorEntries(change(last.validators));
  if (last.from === from) last.validators = validators;
  else sets.push({ from, validators });
  ctx.store.put(validatorSetsKey(), encodeEntry(sets));
}

function uniqueKeys(keys: readonly Uint8Array[]): Uint8Array[] {
  const seen = new Map<string, Uint8Array>();
  for (const k of keys) seen.set(toHex(k), k);
  return [...seen.values()];
}

function votingPeriod(store: StateReader): number {
  const bytes = store.get(chainKey());
  const v = bytes === undefined ? undefined : decodeChain(bytes).params.proposalVotingPeriodMs;
  return typeof v === 'number' && v > 0 ? v : DEFAULT_CHAIN_PARAMS.proposalVotingPeriodMs!;
}

function encodeGovProposal(e: ProposalEntry): Uint8Array {
  return encodeEntry(e);
}

export function decodeGovProposal(bytes: Uint8Array): ProposalEntry {
  try {
    const v = assertRecord(decodeCanonical(bytes), 'proposal');
    const id = assertString(v.id, 'id', 32);
    // The action was validated when proposed; decoding checks it again as a payload would be.
    validateGovPropose({ proposal: id, action: v.action });
    const status = assertString(v.status, 'status', 16);
    if (!(Object.values(ProposalStatus) as string[]).includes(status)) throw new Error('status');
    return {
      id,
      proposer: assertString(v.proposer, 'proposer', 63),
      action: v.action as GovAction,
      createdAt: assertUint(v.createdAt, 'createdAt'),
      height: assertUint(v.height, 'height'),
      expires: assertUint(v.expires, 'expires'),
      votes: assertArray(v.votes, 'votes', 1024).map((x, i) => {
        const r = assertRecord(x, `votes[${i}]`);
        return {
          validator: assertBytes(r.validator, 'validator', 32),
          org: assertString(r.org, 'org', 63),
          approve: assertBool(r.approve, 'approve'),
        };
      }),
      status: status as ProposalStatus,
      yes: assertUint(v.yes, 'yes'),
      no: assertUint(v.no, 'no'),
      validators: assertUint(v.validators, 'validators'),
      decidedHeight: v.decidedHeight === null ? null : assertUint(v.decidedHeight, 'decidedHeight'),
      log: typeof v.log === 'string' ? v.log : '',
    };
  } catch (err) {
    const reason = isMedLedgerError(err) || err instanceof Error ? err.message : String(err);
    throw stateError(StateErrorCode.CORRUPT, `stored proposal does not decode: ${reason}`);
  }
}

/** An action with its byte fields as hex, for JSON. */
export function actionView(a: GovAction): ProposalView['action'] {
  switch (a.type) {
    case GovActionType.MemberAdd:
      return {
        type: a.type,
        org: {
          ...a.org,
          orgKey: toHex(a.org.orgKey),
          encKey: toHex(a.org.encKey),
          nodeKeys: a.org.nodeKeys.map(toHex),
        },
        validator: a.validator && { pubKey: toHex(a.validator.pubKey), name: a.validator.name },
      };
    case GovActionType.MemberRemove:
      return { type: a.type, org: a.org };
    case GovActionType.ValidatorAdd:
      return { type: a.type, org: a.org, validator: { pubKey: toHex(a.validator.pubKey), name: a.validator.name } };
    case GovActionType.ValidatorRemove:
      return { type: a.type, pubKey: toHex(a.pubKey) };
  }
}

/** `now` is the last block time: an open proposal past its expiry shows as expired. */
export function proposalView(e: ProposalEntry, now: number): ProposalView {
  const status = e.status === ProposalStatus.Open && now > e.expires ? ProposalStatus.Expired : e.status;
  return {
    id: e.id,
    proposer: e.proposer,
    action: actionView(e.action),
    createdAt: e.createdAt,
    height: e.height,
    expires: e.expires,
    status,
    yes: e.yes,
    no: e.no,
    validators: e.validators,
    needed: passThreshold(Math.max(1, e.validators)),
    votes: e.votes.map((v) => ({
      validator: toHex(v.validator),
      address: addressHex(v.validator),
      org: v.org,
      approve: v.approve,
    })),
    decidedHeight: e.decidedHeight,
    log: e.log,
  };
}

export async function listProposals(db: KeyValueReader, now: number): Promise<ProposalView[]> {
  const out: ProposalView[] = [];
  for await (const [, value] of db.range(prefixRange(proposalPrefix())))
    out.push(proposalView(decodeGovProposal(value), now));
  // Newest first: the open ones an operator is asked to vote on are at the top.
  return out.sort((a, b) => b.height - a.height || (a.id < b.id ? -1 : 1));
}

/** Every node key a member organisation owns: the connection gater admits exactly these. */
export async function memberNodeKeys(db: KeyValueReader): Promise<string[]> {
  const prefix = keyOwnerPrefix();
  const keys: string[] = [];
  for await (const [key, value] of db.range(prefixRange(prefix))) {
    if (decodeKeyOwner(value).role === KeyRole.Node) keys.push(toHex(key.subarray(prefix.length)));
  }
  return keys;
}
