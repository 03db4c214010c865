import {
  assertArray,
  assertBytes,
  assertPurpose,
  assertRecord,
  assertString,
  assertUint,
  decodeTrusted,
  encodeCanonical,
  isMedLedgerError,
} from '@medledger/types';
import { StateErrorCode, stateError } from './errors.js';

/**
 * What the state holds, one interface per kind of entry, and its canonical encoding. Values
 * are CBOR maps (field names as keys) through `encodeCanonical`, so one value has one encoding
 * and the write-set hash is well defined. Decoders check every field: a value that does not
 * decode means a damaged or incompatible database, reported as STATE_CORRUPT.
 */
export interface ChainEntry {
  chainId: string;
  genesisTime: number;
  params: Record<string, number | boolean>;
}

export interface OrgEntry {
  id: string;
  name: string;
  kind: string;
  orgKey: Uint8Array;
  /** Empty when not yet published. */
  encKey: Uint8Array;
  nodeKeys: Uint8Array[];
}

export const KeyRole = { Org: 'org', Node: 'node' } as const;
export type KeyRole = (typeof KeyRole)[keyof typeof KeyRole];

export interface KeyOwnerEntry {
  org: string;
  role: KeyRole;
}

export interface ValidatorEntry {
  pubKey: Uint8Array;
  org: string;
  name: string;
}

/** A validator set and the first height it is in force. */
export interface ValidatorSetEntry {
  from: number;
  validators: ValidatorEntry[];
}

export interface AccountEntry {
  /** The last nonce this account used in an executed tx. */
  nonce: number;
}

export interface PatientEntry {
  id: string;
  account: Uint8Array | null;
  custodian: string | null;
  encKey: Uint8Array | null;
  registeredAt: number;
  height: number;
}

export interface RecordEntry {
  id: string;
  patient: string;
  author: string;
  resourceType: string;
  contentHash: Uint8Array;
  size: number;
  version: number;
  previous: string | null;
  createdAt: number;
  height: number;
}

export interface ConsentEntry {
  id: string;
  patient: string;
  grantee: string;
  scope: { types: string[]; records: string[] };
  purpose: string;
  /** Block time in ms; 0 = never. */
  expires: number;
  grantedAt: number;
  revokedAt: number | null;
  height: number;
}

export interface AccessEventEntry {
  record: string;
  patient: string;
  accessor: string;
  purpose: string;
  consent: string | null;
  breakGlass: string | null;
  time: number;
  height: number;
  index: number;
  tx: Uint8Array;
}

export interface EvidenceEntry {
  validator: Uint8Array;
  height: number;
  round: number;
  type: number;
  /** The two conflicting votes, canonical bytes, in byte order (so submission order does not matter). */
  votes: Uint8Array[];
  committedAt: number;
  committedHeight: number;
}

export interface StateMeta {
  height: number;
  appHash: Uint8Array;
  /** Time of the block at `height` (genesis time at height 0): checkTx judges expiry against it. */
  time: number;
  /** App hash of the genesis state: detects a database made from another genesis. */
  genesisHash: Uint8Array;
}

export const encodeEntry = (value: object): Uint8Array => encodeCanonical(value);

function decodeMap(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    // State values are read back from this node's own database, written canonically.
    return assertRecord(decodeTrusted(bytes), what);
  } catch (err) {
    throw corrupt(what, err);
  }
}

function corrupt(what: string, err: unknown) {
  const reason = isMedLedgerError(err) || err instanceof Error ? err.message : String(err);
  return stateError(StateErrorCode.CORRUPT, `stored ${what} does not decode: ${reason}`);
}

/** Runs a field-by-field reader and turns any shape failure into STATE_CORRUPT. */
function readWith<T>(value: unknown, what: string, read: (v: Record<string, unknown>) => T): T {
  try {
    return read(assertRecord(value, what));
  } catch (err) {
    throw corrupt(what, err);
  }
}

const decodeWith = <T>(bytes: Uint8Array, what: string, read: (v: Record<string, unknown>) => T): T =>
  readWith(decodeMap(bytes, what), what, read);

const str = (v: unknown, f: string) => assertString(v, f, 1024);
const optStr = (v: unknown, f: string) => (v === null ? null : str(v, f));
const optBytes = (v: unknown, f: string) => (v === null ? null : assertBytes(v, f));
const optUint = (v: unknown, f: string) => (v === null ? null : assertUint(v, f));
const strings = (v: unknown, f: string) => assertArray(v, f, 1024).map((s, i) => str(s, `${f}[${i}]`));

export const decodeChain = (b: Uint8Array): ChainEntry =>
  decodeWith(b, 'chain', (v) => ({
    chainId: str(v.chainId, 'chainId'),
    genesisTime: assertUint(v.genesisTime, 'genesisTime'),
    params: assertRecord(v.params, 'params') as Record<string, number | boolean>,
  }));

export const decodeOrg = (b: Uint8Array): OrgEntry =>
  decodeWith(b, 'organisation', (v) => ({
    id: str(v.id, 'id'),
    name: str(v.name, 'name'),
    kind: str(v.kind, 'kind'),
    orgKey: assertBytes(v.orgKey, 'orgKey', 32),
    encKey: assertBytes(v.encKey, 'encKey'),
    nodeKeys: assertArray(v.nodeKeys, 'nodeKeys', 1024).map((k, i) => assertBytes(k, `nodeKeys[${i}]`, 32)),
  }));

export const decodeKeyOwner = (b: Uint8Array): KeyOwnerEntry =>
  decodeWith(b, 'key owner', (v) => {
    if (v.role !== KeyRole.Org && v.role !== KeyRole.Node) throw new Error('role');
    return { org: str(v.org, 'org'), role: v.role };
  });

export const decodeValidatorSets = (b: Uint8Array): ValidatorSetEntry[] => {
  let list: unknown[];
  try {
    list = assertArray(decodeTrusted(b), 'validatorSets', 1_000_000);
  } catch (err) {
    throw corrupt('validator sets', err);
  }
  return list.map((entry) =>
    readWith(entry, 'validator set', (v) => ({
      from: assertUint(v.from, 'from'),
      validators: assertArray(v.validators, 'validators', 1024).map((val, i) => {
        const r = assertRecord(val, `validators[${i}]`);
        return { pubKey: assertBytes(r.pubKey, 'pubKey', 32), org: str(r.org, 'org'), name: str(r.name, 'name') };
      }),
    })),
  );
};

export const decodeAccount = (b: Uint8Array): AccountEntry =>
  decodeWith(b, 'account', (v) => ({ nonce: assertUint(v.nonce, 'nonce') }));

export const decodePatient = (b: Uint8Array): PatientEntry =>
  decodeWith(b, 'patient', (v) => ({
    id: str(v.id, 'id'),
    account: optBytes(v.account, 'account'),
    custodian: optStr(v.custodian, 'custodian'),
    encKey: optBytes(v.encKey, 'encKey'),
    registeredAt: assertUint(v.registeredAt, 'registeredAt'),
    height: assertUint(v.height, 'height'),
  }));

export const decodeRecord = (b: Uint8Array): RecordEntry =>
  decodeWith(b, 'record', (v) => ({
    id: str(v.id, 'id'),
    patient: str(v.patient, 'patient'),
    author: str(v.author, 'author'),
    resourceType: str(v.resourceType, 'resourceType'),
    contentHash: assertBytes(v.contentHash, 'contentHash', 32),
    size: assertUint(v.size, 'size'),
    version: assertUint(v.version, 'version'),
    previous: optStr(v.previous, 'previous'),
    createdAt: assertUint(v.createdAt, 'createdAt'),
    height: assertUint(v.height, 'height'),
  }));

export const decodeConsent = (b: Uint8Array): ConsentEntry =>
  decodeWith(b, 'consent', (v) => {
    const scope = assertRecord(v.scope, 'scope');
    return {
      id: str(v.id, 'id'),
      patient: str(v.patient, 'patient'),
      grantee: str(v.grantee, 'grantee'),
      scope: { types: strings(scope.types, 'scope.types'), records: strings(scope.records, 'scope.records') },
      purpose: assertPurpose(v.purpose, 'purpose'),
      expires: assertUint(v.expires, 'expires'),
      grantedAt: assertUint(v.grantedAt, 'grantedAt'),
      revokedAt: optUint(v.revokedAt, 'revokedAt'),
      height: assertUint(v.height, 'height'),
    };
  });

export const decodeAccessEvent = (b: Uint8Array): AccessEventEntry =>
  decodeWith(b, 'access event', (v) => ({
    record: str(v.record, 'record'),
    patient: str(v.patient, 'patient'),
    accessor: str(v.accessor, 'accessor'),
    purpose: assertPurpose(v.purpose, 'purpose'),
    consent: optStr(v.consent, 'consent'),
    breakGlass: optStr(v.breakGlass, 'breakGlass'),
    time: assertUint(v.time, 'time'),
    height: assertUint(v.height, 'height'),
    index: assertUint(v.index, 'index'),
    tx: assertBytes(v.tx, 'tx', 32),
  }));

export const decodeEvidence = (b: Uint8Array): EvidenceEntry =>
  decodeWith(b, 'evidence', (v) => ({
    validator: assertBytes(v.validator, 'validator', 20),
    height: assertUint(v.height, 'height'),
    round: assertUint(v.round, 'round'),
    type: assertUint(v.type, 'type'),
    votes: assertArray(v.votes, 'votes', 2).map((x, i) => assertBytes(x, `votes[${i}]`)),
    committedAt: assertUint(v.committedAt, 'committedAt'),
    committedHeight: assertUint(v.committedHeight, 'committedHeight'),
  }));

export const decodeStateMeta = (b: Uint8Array): StateMeta =>
  decodeWith(b, 'state meta', (v) => ({
    height: assertUint(v.height, 'height'),
    appHash: assertBytes(v.appHash, 'appHash', 32),
    time: assertUint(v.time, 'time'),
    genesisHash: assertBytes(v.genesisHash, 'genesisHash', 32),
  }));
