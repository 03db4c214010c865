import {
  BREAK_GLASS_REASONS,
  fromHex,
  isBreakGlassReason,
  isPurpose,
  PURPOSES,
  TxType,
  validatePayload,
  type AccessLogPayload,
  type ConsentGrantPayload,
  type ConsentRevokePayload,
  type PatientClaimPayload,
  type PatientRegisterPayload,
  type RecordAnchorPayload,
  type TxPayloads,
} from '@medledger/types';
import { signPatientClaim } from '@medledger/crypto';
import { invalidArgument } from './errors.js';
import type { TxSigner } from './interface.js';
import { randomId } from './tx.js';

/**
 * Payload builders. Each fills what the client can fill (fresh random ids, hashes), converts
 * friendly inputs (hex strings, Dates) and runs the same shape validation as the node, so a bad
 * input throws here, naming the field, before anything is signed or sent.
 */

/** Bytes given either as bytes or as hex (either case). */
export type BytesInput = Uint8Array | string;
/** A point in time: ms since the epoch, a Date, or an ISO 8601 string. */
export type TimeInput = number | Date | string;

function bytesOf(v: BytesInput, field: string): Uint8Array {
  return typeof v === 'string' ? fromHex(v.toLowerCase(), field) : v;
}

function checked<T extends TxType>(type: T, payload: TxPayloads[T]): TxPayloads[T] {
  validatePayload(type, payload);
  return payload;
}

/** Milliseconds since the epoch from a number, a Date, a digit string or an ISO 8601 date. */
export function parseTime(v: TimeInput, field = 'time'): number {
  let ms: number;
  if (typeof v === 'number') ms = v;
  else if (v instanceof Date) ms = v.getTime();
  else if (/^\d+$/.test(v)) ms = Number(v);
  // Date.parse accepts many loose forms; requiring a leading yyyy-mm-dd keeps it to ISO 8601.
  else if (/^\d{4}-\d{2}-\d{2}/.test(v)) ms = Date.parse(v);
  else ms = NaN;
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw invalidArgument(`${field}: expected ms since the epoch or an ISO 8601 date`, { field });
  }
  return ms;
}

/**
 * A break-glass reason must be one of the codes (`BREAK_GLASS_REASONS`): it goes on chain in the
 * clear, so free text is refused here, before anything is signed. The error lists the codes.
 */
export function checkBreakGlass(v: string | null | undefined, field = 'breakGlass'): string | null {
  if (v == null) return null;
  if (!isBreakGlassReason(v)) {
    throw invalidArgument(`${field}: expected one of ${BREAK_GLASS_REASONS.join(', ')}`, { field });
  }
  return v;
}

/** A purpose must be one of the codes (`PURPOSES`), for the same reason; the error lists them. */
export function checkPurpose(v: string, field = 'purpose'): string {
  if (!isPurpose(v)) throw invalidArgument(`${field}: expected one of ${PURPOSES.join(', ')}`, { field });
  return v;
}

export interface PatientRegisterInput {
  /** Defaults to a fresh random id. */
  patient?: string;
  /** The patient's own ed25519 account key; omit or null when registering custodially. */
  account?: BytesInput | null;
  /** The patient's x25519 encryption public key. */
  encKey?: BytesInput | null;
}

export function createPatientRegisterPayload(input: PatientRegisterInput = {}): PatientRegisterPayload {
  return checked(TxType.PatientRegister, {
    patient: input.patient ?? randomId(),
    account: input.account == null ? null : bytesOf(input.account, 'payload.account'),
    encKey: input.encKey == null ? null : bytesOf(input.encKey, 'payload.encKey'),
  });
}

/**
 * A `patient.claim`, sent by the custodian: the patient's own signer (their app) signs the claim,
 * so the account that takes the patient over has agreed to it.
 */
export function createPatientClaimPayload(input: {
  chainId: string;
  patient: string;
  account: Pick<TxSigner, 'publicKey' | 'sign'>;
}): PatientClaimPayload {
  const proof = signPatientClaim(input.account, input.chainId, input.patient);
  return checked(TxType.PatientClaim, { patient: input.patient, ...proof });
}

export interface RecordAnchorInput {
  /** Defaults to a fresh random id. */
  record?: string;
  patient: string;
  /** FHIR R4 resource type, e.g. `Observation`. */
  resourceType: string;
  contentHash: BytesInput;
  size: number;
  /** The record this version amends. */
  previous?: string | null;
}

export function createRecordAnchorPayload(input: RecordAnchorInput): RecordAnchorPayload {
  return checked(TxType.RecordAnchor, {
    record: input.record ?? randomId(),
    patient: input.patient,
    resourceType: input.resourceType,
    contentHash: bytesOf(input.contentHash, 'payload.contentHash'),
    size: input.size,
    previous: input.previous ?? null,
  });
}

export interface ConsentGrantInput {
  /** Defaults to a fresh random id. */
  consent?: string;
  patient: string;
  /** Organisation id of the grantee. */
  grantee: string;
  /** FHIR resource types covered. */
  types?: string[];
  /** Record ids covered. */
  records?: string[];
  /** A purpose-of-use code (`PURPOSES`): treatment, research, billing, ... */
  purpose: string;
  /** Omit, null or 0 for no expiry. */
  expires?: TimeInput | null;
}

export function createConsentGrantPayload(input: ConsentGrantInput): ConsentGrantPayload {
  return checked(TxType.ConsentGrant, {
    consent: input.consent ?? randomId(),
    patient: input.patient,
    grantee: input.grantee,
    scope: { types: input.types ?? [], records: input.records ?? [] },
    purpose: checkPurpose(input.purpose),
    expires: input.expires == null ? 0 : parseTime(input.expires, 'expires'),
  });
}

export function createConsentRevokePayload(input: { consent: string }): ConsentRevokePayload {
  return checked(TxType.ConsentRevoke, { consent: input.consent });
}

export interface AccessLogInput {
  record: string;
  purpose: string;
  /** The consent the access relies on ... */
  consent?: string | null;
  /** ... or, without one, the coded reason for emergency access (`BREAK_GLASS_REASONS`). Exactly one of the two. */
  breakGlass?: string | null;
}

export function createAccessLogPayload(input: AccessLogInput): AccessLogPayload {
  return checked(TxType.AccessLog, {
    record: input.record,
    purpose: checkPurpose(input.purpose),
    consent: input.consent ?? null,
    breakGlass: checkBreakGlass(input.breakGlass),
  });
}
