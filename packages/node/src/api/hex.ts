import { MedLedgerError } from '@medledger/types';
import { NodeErrorCode } from '../errors.js';

/**
 * A lowercase hex string in a request body. The pattern is linear on purpose: with
 * `^([0-9a-f]{2})*$` V8's regex engine keeps a frame per pair and overflows its stack on a few
 * megabytes (a document upload answered 500). Whole bytes are checked by `assertEvenHex`.
 */
export const hexSchema = (maxBytes?: number) =>
  ({ type: 'string', pattern: '^[0-9a-f]*$', ...(maxBytes === undefined ? {} : { maxLength: maxBytes * 2 }) }) as const;

/** INVALID_REQUEST, as the schema's own refusals, for a hex field that does not hold whole bytes. */
export function assertEvenHex(hex: string, field: string): void {
  if (hex.length % 2 !== 0) {
    throw new MedLedgerError(
      NodeErrorCode.InvalidRequest,
      `body/${field} must hold whole bytes (an even number of hex digits)`,
    );
  }
}
