import { concatBytes } from '@medledger/db';
import { StateErrorCode, stateError } from './errors.js';

/**
 * Opaque page cursors: base64url of a kind byte and the tail of the last index key returned
 * (its position: time and id). A position does not depend on which index served the page, so
 * a cursor stays valid while new entries are committed: the next page starts right after it.
 */
export const CursorKind = { Record: 1, Access: 2, Evidence: 3 } as const;
export type CursorKind = (typeof CursorKind)[keyof typeof CursorKind];

export function encodeCursor(kind: CursorKind, position: Uint8Array): string {
  return Buffer.from(concatBytes(new Uint8Array([kind]), position)).toString('base64url');
}

/** The position bytes of a cursor of `kind`, whose position is `length` bytes long. */
export function decodeCursor(cursor: string, kind: CursorKind, length: number): Uint8Array {
  const bytes = typeof cursor === 'string' ? Buffer.from(cursor, 'base64url') : Buffer.alloc(0);
  // base64url decoding is lenient; the round trip keeps one spelling per cursor.
  if (bytes.length !== length + 1 || bytes[0] !== kind || bytes.toString('base64url') !== cursor) {
    throw stateError(StateErrorCode.INVALID_CURSOR, 'cursor is not valid for this query');
  }
  return new Uint8Array(bytes.subarray(1));
}
