import {
  assertBytes,
  assertRecord,
  assertString,
  decodeCanonical,
  encodeCanonical,
  MedLedgerError,
  shapeError,
} from '@medledger/types';
import { DocErrorCode } from './errors.js';

/**
 * `/medledger/<chainId>/docs/1` (ADR 0006). Request: one signed `DocRequest` in its canonical
 * encoding. Response: a canonical map, `{ok: true, ...}` with the ciphertext and the data key
 * wrapped for the reader, or `{ok: false, code, message}` with a refusal code. Refusals travel in
 * ok frames because the network's error frames carry a message only.
 */
export interface DocServed {
  ciphertext: Uint8Array;
  /** The data key wrapped for the reading organisation's enc key. */
  wrappedKey: Uint8Array;
  consent: string | null;
  breakGlass: string | null;
  /** Hash of the committed `access.serve` tx: the audit event of this read. */
  accessTx: string;
}

export function encodeServed(s: DocServed): Uint8Array {
  return encodeCanonical({ ok: true, ...s });
}

export function encodeRefusal(code: string, message: string): Uint8Array {
  return encodeCanonical({ ok: false, code, message: message.slice(0, 300) });
}

/** The served document, or a MedLedgerError carrying the holder's refusal code. */
export function decodeDocResponse(bytes: Uint8Array): DocServed {
  const v = assertRecord(decodeCanonical(bytes), 'docs response');
  if (v.ok === false) {
    const code = assertString(v.code, 'code', 64, /^[A-Z][A-Z_]{1,63}$/);
    const message = typeof v.message === 'string' ? v.message : 'refused';
    throw new MedLedgerError(code, `holder refused: ${message}`, { remote: true });
  }
  if (v.ok !== true) throw shapeError('docs response.ok', 'a boolean');
  const optString = (x: unknown, f: string) => (x === null ? null : assertString(x, f, 256));
  return {
    ciphertext: assertBytes(v.ciphertext, 'ciphertext'),
    wrappedKey: assertBytes(v.wrappedKey, 'wrappedKey'),
    consent: optString(v.consent, 'consent'),
    breakGlass: optString(v.breakGlass, 'breakGlass'),
    accessTx: assertString(v.accessTx, 'accessTx', 64, /^[0-9a-f]{64}$/),
  };
}

/** Holder-side codes that another node of the same organisation might not share. */
export const TRY_NEXT_HOLDER: readonly string[] = [DocErrorCode.DOCUMENT_NOT_FOUND, DocErrorCode.NOT_HOLDER];
