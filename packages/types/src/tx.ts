import { decodeCanonical, encodeCanonical } from './encoding.js';
import { MedLedgerError, TypesErrorCode, shapeError } from './errors.js';
import { assertBreakGlassReason, MAX_DOC_REQUEST_BYTES } from './docs.js';
import { assertPurpose } from './purpose.js';
import {
  assertArray,
  assertBytes,
  assertInt,
  assertKeys,
  assertRecord,
  assertString,
  assertUint,
  FHIR_TYPE_RE,
  ID_RE,
  MAX_TIME_MS,
  ORG_ID_RE,
} from './validate.js';
import {
  validateGovPropose,
  validateGovVote,
  validateOrgRotateKey,
  type GovProposePayload,
  type GovVotePayload,
  type OrgRotateKeyPayload,
} from './governance.js';

/** Every transaction type the state machine knows. Unknown types are rejected at decode. */
export const TxType = {
  PatientRegister: 'patient.register',
  // A custodially registered patient takes the account over (DESIGN §4).
  PatientClaim: 'patient.claim',
  RecordAnchor: 'record.anchor',
  ConsentGrant: 'consent.grant',
  ConsentRevoke: 'consent.revoke',
  AccessLog: 'access.log',
  Evidence: 'evidence.submit',
  // Documents (ADR 0006): the holder's record of serving a document, and crypto-shredding.
  AccessServe: 'access.serve',
  RecordErase: 'record.erase',
  GovPropose: 'gov.propose',
  GovVote: 'gov.vote',
  OrgRotateKey: 'org.rotateKey',
} as const;
export type TxType = (typeof TxType)[keyof typeof TxType];
const TX_TYPES: readonly string[] = Object.values(TxType);

export interface PatientRegisterPayload {
  /** Random pseudonymous id (32 hex). */
  patient: string;
  /** The patient's own account key when the patient holds it; null when a hospital registers custodially. */
  account: Uint8Array | null;
  /** The patient's x25519 encryption public key, if any. */
  encKey: Uint8Array | null;
}

/**
 * Signed by the custodian's org key: the patient, registered without an account, takes over with
 * their own account key from now on. `proof` is that account's signature over
 * `patientClaimSignBytes`, so nobody hands a patient to a key its holder did not agree to.
 */
export interface PatientClaimPayload {
  patient: string;
  /** The patient's ed25519 account key. */
  account: Uint8Array;
  /** The account's signature over `patientClaimSignBytes(chainId, patient)`. */
  proof: Uint8Array;
}

/** What a patient's account signs to claim the patient (domain-separated from txs and requests). */
export function patientClaimSignBytes(chainId: string, patient: string): Uint8Array {
  return encodeCanonical(['medledger/patient-claim/1', chainId, patient]);
}

export interface RecordAnchorPayload {
  record: string;
  patient: string;
  /** FHIR R4 resource type of the document. */
  resourceType: string;
  /** sha256 of the encrypted document. */
  contentHash: Uint8Array;
  size: number;
  /** The record this one amends; null for a first version. */
  previous: string | null;
}

export interface ConsentScope {
  /** FHIR resource types covered; empty means none by type. */
  types: string[];
  /** Record ids covered; empty means none by id. */
  records: string[];
}

export interface ConsentGrantPayload {
  consent: string;
  patient: string;
  grantee: string;
  scope: ConsentScope;
  purpose: string;
  /** Expiry as block time in ms since the epoch, at most MAX_TIME_MS (a date every view can print); 0 = no expiry. */
  expires: number;
}

export interface ConsentRevokePayload {
  consent: string;
}

export interface AccessLogPayload {
  record: string;
  purpose: string;
  /** The consent the access relies on, or null for break-glass. */
  consent: string | null;
  /** Coded reason (a `BreakGlassReason`) for emergency access; null when a consent covers it. */
  breakGlass: string | null;
}

/** Written by the holder's node key when it serves a document: the reader's signed request. */
export interface AccessServePayload {
  /** The `DocRequest` in its canonical encoding, signed by the reader's org key. */
  request: Uint8Array;
  /** The consent the holder judged to cover the read; null for break-glass. */
  consent: string | null;
}

/** The patient's erasure request: every node deletes the document; the chain keeps the hash. */
export interface RecordErasePayload {
  record: string;
}

export interface EvidencePayload {
  /** Two conflicting signed votes from one validator, each in its canonical encoding. */
  voteA: Uint8Array;
  voteB: Uint8Array;
}

export interface TxPayloads {
  'patient.register': PatientRegisterPayload;
  'patient.claim': PatientClaimPayload;
  'record.anchor': RecordAnchorPayload;
  'consent.grant': ConsentGrantPayload;
  'consent.revoke': ConsentRevokePayload;
  'access.log': AccessLogPayload;
  'evidence.submit': EvidencePayload;
  'access.serve': AccessServePayload;
  'record.erase': RecordErasePayload;
  'gov.propose': GovProposePayload;
  'gov.vote': GovVotePayload;
  'org.rotateKey': OrgRotateKeyPayload;
}

export interface Tx<T extends TxType = TxType> {
  chainId: string;
  type: T;
  /** The signer's ed25519 public key (32 bytes). */
  from: Uint8Array;
  /** Per-account, strictly increasing. */
  nonce: number;
  payload: TxPayloads[T];
  /** ed25519 over `txSignBytes`. */
  signature: Uint8Array;
}

export type UnsignedTx<T extends TxType = TxType> = Omit<Tx<T>, 'signature'>;

export const MAX_TX_BYTES = 16 * 1024;
const CHAIN_ID_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;

const TX_SIGN_TAG = 'medledger/tx/1';

/** Domain-separated bytes an account signs: the tag keeps a tx signature from passing as a vote. */
export function txSignBytes(tx: UnsignedTx): Uint8Array {
  return encodeCanonical([TX_SIGN_TAG, tx.chainId, tx.type, tx.from, tx.nonce, tx.payload]);
}

/** CBOR heads: a list of 6 items; a byte string whose length follows in one byte. */
const LIST_OF_6 = 0x86;
const BYTES_LEN8 = 0x58;
const ENCODED_TAG = encodeCanonical(TX_SIGN_TAG);
/** The signature item: head, length 64, the 64 bytes. */
const SIGNATURE_ITEM_BYTES = 2 + 64;

/**
 * `txSignBytes` of a tx that `decodeTx` accepted, cut from its encoding instead of encoding the
 * fields again (0.7 µs instead of ~2.3 µs, for every tx on every node). Canonical encoding gives
 * each item one encoding wherever it sits, so the tx's list of 6 with the signature last becomes
 * the signed list of 6 by swapping the signature for the leading tag. Bytes of another shape throw.
 */
export function encodedTxSignBytes(bytes: Uint8Array): Uint8Array {
  const fieldsEnd = bytes.length - SIGNATURE_ITEM_BYTES;
  if (bytes[0] !== LIST_OF_6 || fieldsEnd < 1 || bytes[fieldsEnd] !== BYTES_LEN8 || bytes[fieldsEnd + 1] !== 64) {
    throw shapeError('tx', 'a list of 6 fields ending in a 64-byte signature');
  }
  const out = new Uint8Array(1 + ENCODED_TAG.length + fieldsEnd - 1);
  out[0] = LIST_OF_6;
  out.set(ENCODED_TAG, 1);
  out.set(bytes.subarray(1, fieldsEnd), 1 + ENCODED_TAG.length);
  return out;
}

export function encodeTx(tx: Tx): Uint8Array {
  return encodeCanonical([tx.chainId, tx.type, tx.from, tx.nonce, tx.payload, tx.signature]);
}

/** Decodes and shape-validates a tx. Signatures and state rules are checked elsewhere. */
export function decodeTx(bytes: Uint8Array): Tx {
  if (bytes.length > MAX_TX_BYTES) {
    throw new MedLedgerError(TypesErrorCode.TOO_LARGE, `tx is ${bytes.length} bytes, limit ${MAX_TX_BYTES}`);
  }
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length !== 6) throw shapeError('tx', 'a list of 6 fields');
  const [chainId, type, from, nonce, payload, signature] = v as unknown[];
  const tx = {
    chainId: assertString(chainId, 'chainId', 48, CHAIN_ID_RE),
    type: assertTxType(type),
    from: assertBytes(from, 'from', 32),
    nonce: assertUint(nonce, 'nonce'),
    payload: payload as never,
    signature: assertBytes(signature, 'signature', 64),
  } satisfies Tx;
  validatePayload(tx.type, payload);
  return tx;
}

function assertTxType(v: unknown): TxType {
  if (typeof v !== 'string' || !TX_TYPES.includes(v)) {
    // The field only, never its value: client input may hold anything, patient data included.
    throw new MedLedgerError(TypesErrorCode.UNKNOWN_TX_TYPE, 'type: not a known tx type', { field: 'type' });
  }
  return v as TxType;
}

const nullable = <T>(v: unknown, check: (v: unknown) => T): T | null => (v === null ? null : check(v));
const id = (field: string) => (v: unknown) => assertString(v, field, 32, ID_RE);

/** Checks a payload's shape for its type; throws a MedLedgerError naming the bad field. */
export function validatePayload(type: TxType, payload: unknown): void {
  const p = assertRecord(payload, 'payload');
  const f = (name: string) => `payload.${name}`;
  switch (type) {
    case TxType.PatientRegister:
      assertKeys(p, ['patient', 'account', 'encKey'], 'payload');
      id(f('patient'))(p.patient);
      nullable(p.account, (v) => assertBytes(v, f('account'), 32));
      nullable(p.encKey, (v) => assertBytes(v, f('encKey'), 32));
      return;
    case TxType.PatientClaim:
      assertKeys(p, ['patient', 'account', 'proof'], 'payload');
      id(f('patient'))(p.patient);
      assertBytes(p.account, f('account'), 32);
      assertBytes(p.proof, f('proof'), 64);
      return;
    case TxType.RecordAnchor:
      assertKeys(p, ['record', 'patient', 'resourceType', 'contentHash', 'size', 'previous'], 'payload');
      id(f('record'))(p.record);
      id(f('patient'))(p.patient);
      assertString(p.resourceType, f('resourceType'), 64, FHIR_TYPE_RE);
      assertBytes(p.contentHash, f('contentHash'), 32);
      assertUint(p.size, f('size'), 2 ** 40);
      nullable(p.previous, id(f('previous')));
      return;
    case TxType.ConsentGrant: {
      assertKeys(p, ['consent', 'patient', 'grantee', 'scope', 'purpose', 'expires'], 'payload');
      id(f('consent'))(p.consent);
      id(f('patient'))(p.patient);
      assertString(p.grantee, f('grantee'), 63, ORG_ID_RE);
      const scope = assertRecord(p.scope, f('scope'));
      assertKeys(scope, ['types', 'records'], f('scope'));
      const types = assertArray(scope.types, f('scope.types'), 64);
      types.forEach((t, i) => assertString(t, `${f('scope.types')}[${i}]`, 64, FHIR_TYPE_RE));
      const records = assertArray(scope.records, f('scope.records'), 256);
      records.forEach((r, i) => id(`${f('scope.records')}[${i}]`)(r));
      if (types.length + records.length === 0) throw shapeError(f('scope'), 'at least one type or record');
      assertPurpose(p.purpose, f('purpose'));
      assertInt(p.expires, f('expires'), 0, MAX_TIME_MS);
      return;
    }
    case TxType.ConsentRevoke:
      assertKeys(p, ['consent'], 'payload');
      id(f('consent'))(p.consent);
      return;
    case TxType.AccessLog:
      assertKeys(p, ['record', 'purpose', 'consent', 'breakGlass'], 'payload');
      id(f('record'))(p.record);
      assertPurpose(p.purpose, f('purpose'));
      nullable(p.consent, id(f('consent')));
      nullable(p.breakGlass, (v) => assertBreakGlassReason(v, f('breakGlass')));
      if ((p.consent === null) === (p.breakGlass === null)) {
        throw shapeError('payload', 'exactly one of consent or breakGlass');
      }
      return;
    case TxType.AccessServe:
      assertKeys(p, ['request', 'consent'], 'payload');
      assertBytes(p.request, f('request'));
      if ((p.request as Uint8Array).length > MAX_DOC_REQUEST_BYTES)
        throw shapeError(f('request'), 'at most 1024 bytes');
      nullable(p.consent, id(f('consent')));
      return;
    case TxType.RecordErase:
      assertKeys(p, ['record'], 'payload');
      id(f('record'))(p.record);
      return;
    case TxType.Evidence:
      assertKeys(p, ['voteA', 'voteB'], 'payload');
      assertBytes(p.voteA, f('voteA'));
      assertBytes(p.voteB, f('voteB'));
      return;
    case TxType.GovPropose:
      validateGovPropose(p);
      return;
    case TxType.GovVote:
      validateGovVote(p);
      return;
    case TxType.OrgRotateKey:
      validateOrgRotateKey(p);
      return;
  }
}
