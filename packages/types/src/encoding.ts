import { encode, decode } from 'cborg';
import { MedLedgerError, TypesErrorCode } from './errors.js';
import { encodeCanonicalFast } from './cbor-encode.js';
import { CanonicalDecodeError, FLOAT_SEEN, MAX_DECODED_ITEMS, copy, decodeCanonicalFast } from './cbor-decode.js';

/**
 * The one canonical binary encoding (ADR 0001): deterministic CBOR (RFC 8949 §4.2) through
 * cborg. Everything that is hashed or signed goes through `encodeCanonical`. `decodeCanonical`
 * accepts only bytes that re-encode to themselves, so every value has exactly one encoding and
 * a hash of bytes is a hash of the value.
 */
const DECODE_OPTIONS = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowIndefinite: false,
  allowNaN: false,
  allowInfinity: false,
  allowBigInt: false,
  useMaps: false,
} as const;

export function encodeCanonical(value: unknown): Uint8Array {
  try {
    return encodeCanonicalFast(value);
  } catch {
    // A value outside what the fast encoder writes (or a cycle): cborg decides.
    return encode(value);
  }
}

export function decodeCanonical(bytes: Uint8Array, maxItems = MAX_DECODED_ITEMS): unknown {
  try {
    return decodeCanonicalFast(bytes, maxItems);
  } catch (err) {
    if (err !== FLOAT_SEEN) throw decodeError(err);
  }
  return decodeCanonicalGeneral(bytes);
}

/** decode, re-encode, compare: the definition of canonical, for what the fast decoder leaves. */
function decodeCanonicalGeneral(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = decode(bytes, DECODE_OPTIONS);
  } catch {
    // Not cborg's message: it can quote the input (a repeated map key), which is never echoed.
    throw new MedLedgerError(TypesErrorCode.ENCODING, 'not valid CBOR');
  }
  const again = encodeCanonical(value);
  if (!bytesEqual(again, bytes)) {
    throw new MedLedgerError(TypesErrorCode.NON_CANONICAL, 'bytes are not in canonical encoding');
  }
  return value;
}

function decodeError(err: unknown): MedLedgerError {
  if (err instanceof CanonicalDecodeError && err.kind === 'non-canonical') {
    return new MedLedgerError(TypesErrorCode.NON_CANONICAL, 'bytes are not in canonical encoding');
  }
  if (err instanceof CanonicalDecodeError && err.kind === 'too-many-items') {
    return new MedLedgerError(TypesErrorCode.TOO_LARGE, `CBOR value has more than the allowed number of items`);
  }
  return new MedLedgerError(TypesErrorCode.ENCODING, `not valid CBOR: ${(err as Error).message}`);
}

/**
 * Decodes bytes this node wrote itself (its own database). The same decoder: checking the
 * canonical form while reading costs next to nothing.
 */
export function decodeTrusted(bytes: Uint8Array): unknown {
  return decodeCanonical(bytes);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

export function fromHex(hex: string, field = 'hex'): Uint8Array {
  if (typeof hex !== 'string' || !HEX_RE.test(hex)) {
    throw new MedLedgerError(TypesErrorCode.INVALID_SHAPE, `${field}: expected lowercase hex`, { field });
  }
  // Decoded in place: ids are turned into key bytes for every tx, and Buffer.from would
  // allocate a pooled buffer only to copy it out again.
  const out = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < out.length; i++)
    out[i] = (nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1));
  return out;
}

/** A lowercase hex digit's value; only called on checked input. */
const nibble = (c: number): number => (c <= 57 ? c - 48 : c - 87);

/**
 * Strict, zero-copy decoding of the one shape that carries txs in bulk (relay batches, the batch
 * submit endpoint): a canonical CBOR array of byte strings. Equivalent to `decodeCanonical` plus
 * a shape check, without decoding and re-encoding every element (a batch of a thousand txs is a
 * megabyte). Elements are copied out, so a tx kept in a pool does not pin the whole message.
 */
export function decodeByteStrings(
  bytes: Uint8Array,
  maxItems: number,
  tooMany: (count: number) => MedLedgerError = () =>
    new MedLedgerError(TypesErrorCode.INVALID_SHAPE, `more than ${maxItems} items`),
): Uint8Array[] {
  let pos = 0;
  const head = (major: number): number => {
    const b = bytes[pos++];
    if (b === undefined || b >> 5 !== major) {
      // Only a well-formed value of another shape is INVALID_SHAPE; bytes that are no canonical
      // CBOR at all (nothing, garbage, a cut-off array) get decodeCanonical's error, as documented.
      decodeCanonical(bytes);
      throw new MedLedgerError(TypesErrorCode.INVALID_SHAPE, 'expected an array of byte strings');
    }
    const info = b & 0x1f;
    if (info < 24) return info;
    const size = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 0;
    if (size === 0 || pos + size > bytes.length)
      throw new MedLedgerError(TypesErrorCode.ENCODING, 'not valid CBOR: bad length');
    let n = 0;
    for (let i = 0; i < size; i++) n = n * 256 + bytes[pos++]!;
    // Canonical: the shortest head that holds the value.
    if (n < (size === 1 ? 24 : size === 2 ? 0x100 : 0x10000)) {
      throw new MedLedgerError(TypesErrorCode.NON_CANONICAL, 'bytes are not in canonical encoding');
    }
    return n;
  };
  const count = head(4);
  // Before anything is allocated: a head can announce millions of 1-byte items.
  if (count > maxItems) throw tooMany(count);
  const items = new Array<Uint8Array>(count);
  for (let i = 0; i < count; i++) {
    const len = head(2);
    if (pos + len > bytes.length) throw new MedLedgerError(TypesErrorCode.ENCODING, 'not valid CBOR: truncated');
    items[i] = copy(bytes, pos, pos + len);
    pos += len;
  }
  if (pos !== bytes.length) throw new MedLedgerError(TypesErrorCode.ENCODING, 'not valid CBOR: trailing bytes');
  return items;
}
