import { shapeError } from './errors.js';
import { OrgKind } from './genesis.js';
import {
  assertArray,
  assertBool,
  assertBytes,
  assertKeys,
  assertRecord,
  assertString,
  ID_RE,
  ORG_ID_RE,
} from './validate.js';

/**
 * Governance payloads (ADR 0007): a member organisation proposes a change to the consortium,
 * validators vote, more than two thirds of the validator set passes it. The state machine
 * decides who may propose and vote; these are only the shapes.
 */
export const GovActionType = {
  MemberAdd: 'member.add',
  MemberRemove: 'member.remove',
  ValidatorAdd: 'validator.add',
  ValidatorRemove: 'validator.remove',
} as const;
export type GovActionType = (typeof GovActionType)[keyof typeof GovActionType];
const ACTION_TYPES: readonly string[] = Object.values(GovActionType);
const ORG_KINDS: readonly string[] = Object.values(OrgKind);

/** An organisation as a proposal carries it (the same fields genesis lists, keys as bytes). */
export interface GovOrg {
  id: string;
  name: string;
  kind: OrgKind;
  orgKey: Uint8Array;
  /** x25519 key, or empty while not published. */
  encKey: Uint8Array;
  nodeKeys: Uint8Array[];
}

export interface GovValidator {
  /** ed25519 node key. */
  pubKey: Uint8Array;
  name: string;
}

export type GovAction =
  /** Admit an organisation; with `validator`, one of its node keys joins the validator set too. */
  | { type: 'member.add'; org: GovOrg; validator: GovValidator | null }
  /** Remove an organisation, its keys and its validators. */
  | { type: 'member.remove'; org: string }
  /** Make a node key of a member organisation a validator. */
  | { type: 'validator.add'; org: string; validator: GovValidator }
  /** Take a validator out of the set (the organisation stays a member). */
  | { type: 'validator.remove'; pubKey: Uint8Array };

export interface GovProposePayload {
  /** Random id (32 hex) chosen by the proposer. */
  proposal: string;
  action: GovAction;
}

export interface GovVotePayload {
  proposal: string;
  approve: boolean;
}

export interface OrgRotateKeyPayload {
  /** The organisation's new ed25519 org key; the tx is signed by the current one. */
  newKey: Uint8Array;
}

const MAX_NODE_KEYS = 64;

function validateOrg(v: unknown, field: string): void {
  const o = assertRecord(v, field);
  assertKeys(o, ['id', 'name', 'kind', 'orgKey', 'encKey', 'nodeKeys'], field);
  assertString(o.id, `${field}.id`, 63, ORG_ID_RE);
  assertString(o.name, `${field}.name`, 128);
  const kind = assertString(o.kind, `${field}.kind`, 32);
  if (!ORG_KINDS.includes(kind)) throw shapeError(`${field}.kind`, ORG_KINDS.join('|'));
  assertBytes(o.orgKey, `${field}.orgKey`, 32);
  const encKey = assertBytes(o.encKey, `${field}.encKey`);
  if (encKey.length !== 0 && encKey.length !== 32) throw shapeError(`${field}.encKey`, '0 or 32 bytes');
  const nodeKeys = assertArray(o.nodeKeys, `${field}.nodeKeys`, MAX_NODE_KEYS);
  nodeKeys.forEach((k, i) => assertBytes(k, `${field}.nodeKeys[${i}]`, 32));
}

function validateValidator(v: unknown, field: string): void {
  const r = assertRecord(v, field);
  assertKeys(r, ['pubKey', 'name'], field);
  assertBytes(r.pubKey, `${field}.pubKey`, 32);
  assertString(r.name, `${field}.name`, 64);
}

function validateAction(v: unknown, field: string): void {
  const a = assertRecord(v, field);
  const type = assertString(a.type, `${field}.type`, 32);
  if (!ACTION_TYPES.includes(type)) throw shapeError(`${field}.type`, ACTION_TYPES.join('|'));
  switch (type as GovActionType) {
    case GovActionType.MemberAdd:
      assertKeys(a, ['type', 'org', 'validator'], field);
      validateOrg(a.org, `${field}.org`);
      if (a.validator !== null) validateValidator(a.validator, `${field}.validator`);
      return;
    case GovActionType.MemberRemove:
      assertKeys(a, ['type', 'org'], field);
      assertString(a.org, `${field}.org`, 63, ORG_ID_RE);
      return;
    case GovActionType.ValidatorAdd:
      assertKeys(a, ['type', 'org', 'validator'], field);
      assertString(a.org, `${field}.org`, 63, ORG_ID_RE);
      validateValidator(a.validator, `${field}.validator`);
      return;
    case GovActionType.ValidatorRemove:
      assertKeys(a, ['type', 'pubKey'], field);
      assertBytes(a.pubKey, `${field}.pubKey`, 32);
      return;
  }
}

export function validateGovPropose(p: Record<string, unknown>): void {
  assertKeys(p, ['proposal', 'action'], 'payload');
  assertString(p.proposal, 'payload.proposal', 32, ID_RE);
  validateAction(p.action, 'payload.action');
}

export function validateGovVote(p: Record<string, unknown>): void {
  assertKeys(p, ['proposal', 'approve'], 'payload');
  assertString(p.proposal, 'payload.proposal', 32, ID_RE);
  assertBool(p.approve, 'payload.approve');
}

export function validateOrgRotateKey(p: Record<string, unknown>): void {
  assertKeys(p, ['newKey'], 'payload');
  assertBytes(p.newKey, 'payload.newKey', 32);
}
