import { MedLedgerError } from '@medledger/types';

/**
 * Codes the client raises itself. Errors the node answers with keep the node's own code
 * (`BAD_NONCE`, `NOT_FOUND`, ... — docs/API.md), so callers match one set of codes.
 */
export const ClientErrorCode = {
  /** Nothing answered at the API address (connection refused, DNS failure, reset). */
  UNREACHABLE: 'UNREACHABLE',
  /** No answer within the timeout; the same code the node uses for its own commit wait. */
  TIMEOUT: 'TIMEOUT',
  /** The caller aborted the call. */
  ABORTED: 'ABORTED',
  /** The API answered something that is not the documented JSON. */
  BAD_RESPONSE: 'BAD_RESPONSE',
  /** A client-side argument is wrong before anything is sent. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The tx committed with a non-zero result code (same code as the node's 422). */
  TX_FAILED: 'TX_FAILED',
  /** A fetched ciphertext does not hash to the record's on-chain contentHash (same code as the node's). */
  HASH_MISMATCH: 'HASH_MISMATCH',
  /** The signing key is not the org key of a member organisation (same code as the node's). */
  NOT_ORG_KEY: 'NOT_ORG_KEY',
  /** An organisation has no document encryption key (same code as the node's). */
  NO_ENC_KEY: 'NO_ENC_KEY',
  /** A document whose ciphertext would be over the node's limit (same code as the node's); nothing was sent. */
  DOCUMENT_TOO_LARGE: 'DOCUMENT_TOO_LARGE',
  /** The record is anchored but the upload of its document failed: `meta.record` names it. */
  DOCUMENT_NOT_STORED: 'DOCUMENT_NOT_STORED',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/**
 * True when the node answered and refused: a 4xx, or 503 while it is starting. Such a tx never
 * entered the mempool, so its nonce is still free. Anything else (no answer, a timeout, a 5xx)
 * leaves it unknown whether the tx got in.
 */
export function isDefiniteRejection(err: unknown): boolean {
  if (!(err instanceof MedLedgerError)) return false;
  if (err.code === ClientErrorCode.UNREACHABLE || err.code === ClientErrorCode.INVALID_ARGUMENT) return true;
  const status = err.meta.status;
  return typeof status === 'number' && ((status >= 400 && status < 500) || status === 503);
}

export function invalidArgument(message: string, meta: Record<string, unknown> = {}): MedLedgerError {
  return new MedLedgerError(ClientErrorCode.INVALID_ARGUMENT, message, meta);
}
