import { MedLedgerError, TypesErrorCode, shapeError } from './errors.js';
import { fromHex } from './encoding.js';
import { assertArray, assertBool, assertRecord, assertString, assertUint, ORG_ID_RE } from './validate.js';

/** Consensus and block limits, identical on every validator because they live in genesis. */
export interface ChainParams {
  timeoutProposeMs: number;
  timeoutPrevoteMs: number;
  timeoutPrecommitMs: number;
  /** Added to each timeout per round: linear growth, never doubling. */
  timeoutDeltaMs: number;
  timeoutCapMs: number;
  /** With no txs, a new height starts at most this long after the last commit. */
  emptyBlockIntervalMs: number;
  /**
   * With txs waiting, a new height starts no sooner than this long after the last block's time
   * (CometBFT's `timeout_commit`): a light load fills fewer, larger blocks instead of spending
   * the cores on back-to-back heights (ADR 0002).
   */
  minBlockIntervalMs: number;
  createEmptyBlocks: boolean;
  maxBlockTxs: number;
  maxBlockBytes: number;
  /** A proposal's time may lead a validator's clock by at most this much. */
  maxClockDriftMs: number;
  /** A governance proposal not decided within this much block time expires (ADR 0007). */
  proposalVotingPeriodMs?: number;
}

export const DEFAULT_CHAIN_PARAMS: ChainParams = {
  timeoutProposeMs: 1000,
  timeoutPrevoteMs: 500,
  timeoutPrecommitMs: 500,
  timeoutDeltaMs: 500,
  timeoutCapMs: 10_000,
  emptyBlockIntervalMs: 5000,
  minBlockIntervalMs: 200,
  createEmptyBlocks: true,
  maxBlockTxs: 5000,
  maxBlockBytes: 4 * 1024 * 1024,
  maxClockDriftMs: 10_000,
  proposalVotingPeriodMs: 7 * 24 * 3600 * 1000,
};

export const OrgKind = {
  Hospital: 'hospital',
  Lab: 'lab',
  Pharmacy: 'pharmacy',
  Insurer: 'insurer',
  Manufacturer: 'manufacturer',
  Research: 'research',
} as const;
export type OrgKind = (typeof OrgKind)[keyof typeof OrgKind];
const ORG_KINDS: readonly string[] = Object.values(OrgKind);

/** A member organisation. Keys are lowercase hex. */
export interface GenesisOrg {
  id: string;
  name: string;
  kind: OrgKind;
  /** ed25519 key that signs the organisation's transactions. */
  orgKey: string;
  /** x25519 key documents are wrapped to; empty string when not yet published. */
  encKey: string;
  /** ed25519 node keys (libp2p peer ids and, for validators, consensus keys). */
  nodeKeys: string[];
}

export interface GenesisValidator {
  /** ed25519 node key, hex. */
  pubKey: string;
  org: string;
  name: string;
}

export interface Genesis {
  chainId: string;
  genesisTime: number;
  params: ChainParams;
  orgs: GenesisOrg[];
  validators: GenesisValidator[];
}

const PARAM_KEYS = Object.keys(DEFAULT_CHAIN_PARAMS) as (keyof ChainParams)[];

/** Parses a genesis JSON value, filling absent params with defaults and checking every field. */
export function parseGenesis(json: unknown): Genesis {
  const g = assertRecord(json, 'genesis');
  const chainId = assertString(g.chainId, 'genesis.chainId', 48, /^[a-z0-9][a-z0-9-]{0,47}$/);
  const genesisTime = assertUint(g.genesisTime, 'genesis.genesisTime');
  const rawParams = g.params === undefined ? {} : assertRecord(g.params, 'genesis.params');
  const params = { ...DEFAULT_CHAIN_PARAMS };
  for (const k of PARAM_KEYS) {
    const v = rawParams[k];
    if (v === undefined) continue;
    if (k === 'createEmptyBlocks') params[k] = assertBool(v, `genesis.params.${k}`);
    else params[k] = assertUint(v, `genesis.params.${k}`);
  }
  const orgs = assertArray(g.orgs, 'genesis.orgs', 1024).map((o, i) => parseOrg(o, `genesis.orgs[${i}]`));
  const ids = new Set(orgs.map((o) => o.id));
  if (ids.size !== orgs.length) throw shapeError('genesis.orgs', 'unique ids');
  const validators = assertArray(g.validators, 'genesis.validators', 256).map((v, i) => {
    const r = assertRecord(v, `genesis.validators[${i}]`);
    const pubKey = assertString(r.pubKey, `genesis.validators[${i}].pubKey`, 64, /^[0-9a-f]{64}$/);
    const org = assertString(r.org, `genesis.validators[${i}].org`, 63, ORG_ID_RE);
    if (!ids.has(org)) throw shapeError(`genesis.validators[${i}].org`, 'a genesis organisation');
    return { pubKey, org, name: assertString(r.name, `genesis.validators[${i}].name`, 64) };
  });
  if (validators.length === 0) throw new MedLedgerError(TypesErrorCode.GENESIS_INVALID, 'genesis has no validators');
  if (new Set(validators.map((v) => v.pubKey)).size !== validators.length) {
    throw shapeError('genesis.validators', 'unique keys');
  }
  return { chainId, genesisTime, params, orgs, validators };
}

function parseOrg(v: unknown, field: string): GenesisOrg {
  const o = assertRecord(v, field);
  const kind = assertString(o.kind, `${field}.kind`, 32);
  if (!ORG_KINDS.includes(kind)) throw shapeError(`${field}.kind`, ORG_KINDS.join('|'));
  const encKey = o.encKey === undefined || o.encKey === '' ? '' : assertString(o.encKey, `${field}.encKey`, 64);
  if (encKey) fromHex(encKey, `${field}.encKey`);
  return {
    id: assertString(o.id, `${field}.id`, 63, ORG_ID_RE),
    name: assertString(o.name, `${field}.name`, 128),
    kind: kind as OrgKind,
    orgKey: assertString(o.orgKey, `${field}.orgKey`, 64, /^[0-9a-f]{64}$/),
    encKey,
    nodeKeys: assertArray(o.nodeKeys, `${field}.nodeKeys`, 64).map((k, i) =>
      assertString(k, `${field}.nodeKeys[${i}]`, 64, /^[0-9a-f]{64}$/),
    ),
  };
}
