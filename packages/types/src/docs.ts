import { decodeCanonical, encodeCanonical } from './encoding.js';
import { MedLedgerError, TypesErrorCode, shapeError } from './errors.js';
import { assertBytes, assertString, assertUint, ID_RE } from './validate.js';
import { assertPurpose } from './purpose.js';

/**
 * Documents off chain (ADR 0006): the shapes both ends of `/medledger/<chainId>/docs/1` and the
 * state machine agree on. A document request is signed by the reading organisation's org key;
 * the holder puts the whole signed request into its `access.serve` tx, so the chain proves who
 * asked, for which record and purpose, and no holder can invent an access by someone else.
 */
export interface DocRequest {
  chainId: string;
  record: string;
  /** Purpose of use: a `Purpose` code. */
  purpose: string;
  /** Coded reason (a `BreakGlassReason`) for emergency access without consent; null for a consented read. */
  breakGlass: string | null;
  /** Requester's clock, ms since the epoch: bounds how long a request may be used. */
  time: number;
  /** 16 random bytes: two requests never encode alike. */
  nonce: Uint8Array;
  /** The requesting organisation's org key (ed25519). */
  from: Uint8Array;
  signature: Uint8Array;
}

export type UnsignedDocRequest = Omit<DocRequest, 'signature'>;

export const MAX_DOC_REQUEST_BYTES = 1024;
/** Largest ciphertext a node stores and serves (the sealed document, not its plaintext). */
export const MAX_DOCUMENT_BYTES = 8 * 1024 * 1024;

/**
 * Break-glass reasons, code → display text. Coded, never free text: the reason goes on chain in
 * the clear, and a typed reason would carry patient data there. The free-text justification stays
 * in the reading organisation's own systems. Adding a code is a consensus rule change.
 */
export const BreakGlassReason = {
  unconscious: 'Patient unconscious or otherwise unable to consent',
  'life-threatening': 'Life-threatening emergency',
  'urgent-treatment': 'Urgent treatment that cannot wait for consent',
  'consent-unobtainable': 'Consent cannot be obtained in time',
  'public-health': 'Public health emergency',
} as const;
export type BreakGlassReason = keyof typeof BreakGlassReason;
export const BREAK_GLASS_REASONS = Object.keys(BreakGlassReason) as readonly BreakGlassReason[];

export function isBreakGlassReason(v: unknown): v is BreakGlassReason {
  // Own keys only: 'constructor' or 'toString' are not reasons.
  return typeof v === 'string' && Object.hasOwn(BreakGlassReason, v);
}

/** The reason code, or a shape error that lists the codes (never the value given). */
export function assertBreakGlassReason(v: unknown, field: string): BreakGlassReason {
  if (!isBreakGlassReason(v)) throw shapeError(field, `one of ${BREAK_GLASS_REASONS.join(', ')}`);
  return v;
}

/** How far a request's time may be from the time it is judged at (holder clock, block time). */
export const DOC_REQUEST_MAX_AGE_MS = 5 * 60_000;
export const DOC_REQUEST_MAX_LEAD_MS = 60_000;

const CHAIN_ID_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;

export function docRequestSignBytes(r: UnsignedDocRequest): Uint8Array {
  return encodeCanonical(['medledger/docreq/1', r.chainId, r.record, r.purpose, r.breakGlass, r.time, r.nonce, r.from]);
}

export function encodeDocRequest(r: DocRequest): Uint8Array {
  return encodeCanonical([r.chainId, r.record, r.purpose, r.breakGlass, r.time, r.nonce, r.from, r.signature]);
}

/** Decodes and shape-checks a request; the signature is checked by the caller (crypto). */
export function decodeDocRequest(bytes: Uint8Array): DocRequest {
  if (bytes.length > MAX_DOC_REQUEST_BYTES) {
    throw new MedLedgerError(TypesErrorCode.TOO_LARGE, `document request is ${bytes.length} bytes`);
  }
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length !== 8) throw shapeError('document request', 'a list of 8 fields');
  const [chainId, record, purpose, breakGlass, time, nonce, from, signature] = v as unknown[];
  return {
    chainId: assertString(chainId, 'request.chainId', 48, CHAIN_ID_RE),
    record: assertString(record, 'request.record', 32, ID_RE),
    purpose: assertPurpose(purpose, 'request.purpose'),
    breakGlass: breakGlass === null ? null : assertBreakGlassReason(breakGlass, 'request.breakGlass'),
    time: assertUint(time, 'request.time'),
    nonce: assertBytes(nonce, 'request.nonce', 16),
    from: assertBytes(from, 'request.from', 32),
    signature: assertBytes(signature, 'request.signature', 64),
  };
}

/** True when a request made at `requestTime` may still be used at `now` (both ms). */
export function docRequestFresh(requestTime: number, now: number): boolean {
  return requestTime <= now + DOC_REQUEST_MAX_LEAD_MS && now - requestTime <= DOC_REQUEST_MAX_AGE_MS;
}

/**
 * An upload to the author's node: the ciphertext (whose sha256 is the record's on-chain
 * `contentHash`) and the data key wrapped for the author organisation and, when the patient has
 * an encryption key, for the patient. Signed by the author's org key over the hash, not the bytes.
 */
export interface DocUploadFields {
  chainId: string;
  record: string;
  contentHash: Uint8Array;
  authorKey: Uint8Array;
  patientKey: Uint8Array | null;
  time: number;
  from: Uint8Array;
}

export function docUploadSignBytes(u: DocUploadFields): Uint8Array {
  return encodeCanonical([
    'medledger/docupload/1',
    u.chainId,
    u.record,
    u.contentHash,
    u.authorKey,
    u.patientKey,
    u.time,
    u.from,
  ]);
}
