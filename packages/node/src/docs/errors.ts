import { MedLedgerError } from '@medledger/types';

/**
 * Why a document is not served (ADR 0006). Codes travel unchanged from the holder over
 * `/docs/1`, through the reader's node API, to the CLI's one error line. Messages name the
 * rule, never document content or keys.
 */
export const DocErrorCode = {
  /** No consent of the patient covers this organisation and record. */
  NO_CONSENT: 'NO_CONSENT',
  CONSENT_REVOKED: 'CONSENT_REVOKED',
  CONSENT_EXPIRED: 'CONSENT_EXPIRED',
  /** A consent covers the record, but for another purpose. */
  PURPOSE_MISMATCH: 'PURPOSE_MISMATCH',
  /** The patient had the document erased; the chain keeps only its hash. */
  ERASED: 'ERASED',
  /** A request or upload whose signature does not verify. */
  BAD_SIGNATURE: 'BAD_SIGNATURE',
  /** Signed with a key that is not the org key of a member organisation (or not the expected one). */
  NOT_ORG_KEY: 'NOT_ORG_KEY',
  /** The node relays and uploads only for its own organisation; the holder serves the asking org's node. */
  WRONG_ORG: 'WRONG_ORG',
  /** A request too old, or from too far in the future. */
  STALE_REQUEST: 'STALE_REQUEST',
  WRONG_CHAIN: 'WRONG_CHAIN',
  INVALID_REQUEST: 'INVALID_REQUEST',
  NOT_FOUND: 'NOT_FOUND',
  /** This node's organisation did not author the record, so it holds no copy. */
  NOT_HOLDER: 'NOT_HOLDER',
  /** The holder has no ciphertext for the record (not uploaded yet). */
  DOCUMENT_NOT_FOUND: 'DOCUMENT_NOT_FOUND',
  /** A holder served a ciphertext that does not hash to the record's on-chain contentHash. */
  HASH_MISMATCH: 'HASH_MISMATCH',
  /** An upload's ciphertext does not match the record's contentHash and size: the uploader's fault. */
  CONTENT_MISMATCH: 'CONTENT_MISMATCH',
  /** The uploaded author copy of the data key does not open the document with the org's enc key. */
  BAD_WRAPPED_KEY: 'BAD_WRAPPED_KEY',
  /** An organisation (reader or holder) has no encryption key to wrap to or unwrap with. */
  NO_ENC_KEY: 'NO_ENC_KEY',
  /** The access event could not be committed, so nothing is served; a new request may succeed. */
  ACCESS_NOT_RECORDED: 'ACCESS_NOT_RECORDED',
  /** The signed request was served before: each is served once, so sending it again never succeeds. */
  REQUEST_ALREADY_SERVED: 'REQUEST_ALREADY_SERVED',
  HOLDER_UNREACHABLE: 'HOLDER_UNREACHABLE',
  TOO_LARGE: 'DOCUMENT_TOO_LARGE',
  /** A stored document does not decode: this node's fault, not the caller's. */
  STORE_CORRUPT: 'DOCUMENT_STORE_CORRUPT',
} as const;
export type DocErrorCode = (typeof DocErrorCode)[keyof typeof DocErrorCode];

/** HTTP statuses of the codes above (the API's error handler looks them up). */
export const DOC_HTTP_STATUS: Record<string, number> = {
  [DocErrorCode.NO_CONSENT]: 403,
  [DocErrorCode.CONSENT_REVOKED]: 403,
  [DocErrorCode.CONSENT_EXPIRED]: 403,
  [DocErrorCode.PURPOSE_MISMATCH]: 403,
  [DocErrorCode.NOT_ORG_KEY]: 403,
  [DocErrorCode.WRONG_ORG]: 403,
  [DocErrorCode.ERASED]: 410,
  [DocErrorCode.NOT_HOLDER]: 409,
  [DocErrorCode.NO_ENC_KEY]: 409,
  [DocErrorCode.REQUEST_ALREADY_SERVED]: 409,
  [DocErrorCode.DOCUMENT_NOT_FOUND]: 404,
  [DocErrorCode.HASH_MISMATCH]: 502,
  [DocErrorCode.CONTENT_MISMATCH]: 422,
  [DocErrorCode.ACCESS_NOT_RECORDED]: 503,
  [DocErrorCode.HOLDER_UNREACHABLE]: 502,
  [DocErrorCode.TOO_LARGE]: 413,
  [DocErrorCode.STORE_CORRUPT]: 500,
};

export function docError(code: DocErrorCode, message: string, meta: Record<string, unknown> = {}): MedLedgerError {
  return new MedLedgerError(code, message, meta);
}
