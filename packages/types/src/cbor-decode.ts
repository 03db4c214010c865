/**
 * A decoder for the canonical CBOR that `encodeCanonical` writes (ADR 0001), which checks the
 * canonical form while it reads: shortest heads, definite lengths, text map keys in cborg's
 * order (shorter first, then bytewise) without repeats, no tags, no undefined, UTF-8 that
 * round-trips, safe integers, nothing after the value. It accepts exactly the bytes that cborg
 * decodes and re-encodes to themselves, and returns the same value, at a fraction of the cost
 * (no token objects, no second encoding). Floats never occur in our data; a value holding one
 * is left to the general path (`FLOAT_SEEN`).
 */

/** Thrown when the input holds a float: the caller decodes it the general way. */
export const FLOAT_SEEN = Symbol('float');

export class CanonicalDecodeError extends Error {
  constructor(
    message: string,
    /** `non-canonical`: CBOR, just not the canonical encoding of its value. */
    readonly kind: 'invalid' | 'non-canonical' | 'too-many-items' = 'invalid',
  ) {
    super(message);
  }
}

/**
 * Items one decode may produce. Each byte of input can be an item (an empty byte string, a
 * small integer), so without a budget a 16 MB frame becomes 16 million objects: seconds of one
 * thread and gigabytes of heap before any shape check runs. The largest value we use is a
 * block of 100,000 txs with its header and commit.
 */
export const MAX_DECODED_ITEMS = 200_000;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const MIN_FOR_INFO = [24, 0x100, 0x10000, 0x100000000];

const EMPTY: Uint8Array = new Uint8Array(0);
let src: Uint8Array = EMPTY;
/** `src` as a Buffer, for its native latin1 slicing. */
const EMPTY_BUFFER = Buffer.alloc(0);
let srcBuffer: Buffer = EMPTY_BUFFER;
let pos = 0;
let itemsLeft = 0;
let floatSeen = false;

const fail = (message: string): never => {
  throw new CanonicalDecodeError(message);
};
const nonCanonical = (): never => {
  throw new CanonicalDecodeError('bytes are not in canonical encoding', 'non-canonical');
};

/** The argument of a head whose first byte was `first` (major type already taken). */
function argument(first: number): number {
  const info = first & 0x1f;
  if (info < 24) return info;
  if (info > 27) return fail(info === 31 ? 'indefinite lengths are not allowed' : 'reserved additional info');
  const size = 1 << (info - 24);
  if (pos + size > src.length) return fail('unexpected end of data');
  let n = 0;
  if (size === 8) {
    const hi = ((src[pos]! << 24) | (src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!) >>> 0;
    if (hi >= 0x200000) return fail('integer outside the safe range');
    n = hi * 0x100000000;
    pos += 4;
    n += ((src[pos]! << 24) | (src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!) >>> 0;
    pos += 4;
  } else {
    for (let i = 0; i < size; i++) n = n * 256 + src[pos++]!;
  }
  if (n < MIN_FOR_INFO[info - 24]!) nonCanonical();
  return n;
}

function take(len: number): number {
  const start = pos;
  if (len > src.length - pos) fail('unexpected end of data');
  pos += len;
  return start;
}

function item(): unknown {
  if (pos >= src.length) return fail('unexpected end of data');
  if (--itemsLeft < 0) throw new CanonicalDecodeError('too many items', 'too-many-items');
  const first = src[pos++]!;
  const major = first >> 5;
  switch (major) {
    case 0:
      return argument(first);
    case 1: {
      const n = -1 - argument(first);
      if (!Number.isSafeInteger(n)) fail('integer outside the safe range');
      return n;
    }
    case 2: {
      const start = take(argument(first));
      return copy(src, start, pos);
    }
    case 3: {
      const start = take(argument(first));
      return text(start, pos);
    }
    case 4: {
      const n = argument(first);
      // Each element takes at least one byte: a count beyond the input is a lie.
      if (n > src.length - pos) fail('unexpected end of data');
      const out = new Array<unknown>(n);
      for (let i = 0; i < n; i++) out[i] = item();
      return out;
    }
    case 5:
      return map(argument(first));
    case 6:
      return fail('tags are not allowed');
    default:
      switch (first) {
        case 0xf4:
          return false;
        case 0xf5:
          return true;
        case 0xf6:
          return null;
        case 0xf9:
        case 0xfa:
        case 0xfb:
          // Read past it, so that the general path runs only on input within the item budget.
          take(1 << (first - 0xf8));
          floatSeen = true;
          return 0;
        default:
          return fail(first === 0xf7 ? 'undefined is not allowed' : 'unsupported simple value');
      }
  }
}

/** Up to this length, bytes and ASCII text are copied by a loop: no view object per field. */
const SHORT = 64;

/** A copy as a plain Uint8Array, whatever the input (`Buffer#slice` returns a view). */
export function copy(bytes: Uint8Array, start: number, end: number): Uint8Array {
  if (end - start > SHORT) return new Uint8Array(bytes.subarray(start, end));
  const out = new Uint8Array(end - start);
  for (let i = start; i < end; i++) out[i - start] = bytes[i]!;
  return out;
}

function text(start: number, end: number): string {
  // Map keys, ids, names and types are short ASCII: such bytes are valid UTF-8 as they are.
  if (end - start <= SHORT) {
    let ascii = true;
    for (let i = start; i < end && ascii; i++) ascii = src[i]! < 0x80;
    if (ascii) return srcBuffer.toString('latin1', start, end);
  }
  try {
    return utf8.decode(src.subarray(start, end));
  } catch {
    return fail('invalid UTF-8 in a text string');
  }
}

function map(n: number): Record<string, unknown> {
  if (n > src.length - pos) fail('unexpected end of data');
  const obj: Record<string, unknown> = {};
  let prevStart = -1;
  let prevLen = 0;
  for (let i = 0; i < n; i++) {
    if (pos >= src.length) fail('unexpected end of data');
    const first = src[pos++]!;
    if (first >> 5 !== 3) fail('map keys must be text');
    const len = argument(first);
    const start = take(len);
    // Canonical order: shorter keys first, then bytewise; equal keys are repeats.
    if (prevStart >= 0) {
      let cmp = len - prevLen;
      for (let k = 0; cmp === 0 && k < len; k++) cmp = src[start + k]! - src[prevStart + k]!;
      if (cmp === 0) fail('repeated map key');
      if (cmp < 0) nonCanonical();
    }
    prevStart = start;
    prevLen = len;
    const key = text(start, start + len);
    const value = item();
    if (key === '__proto__') {
      // An own property, as cborg makes it: an assignment would set the prototype instead.
      Object.defineProperty(obj, key, { value, configurable: true, enumerable: true, writable: true });
    } else {
      obj[key] = value;
    }
  }
  return obj;
}

/**
 * Decodes canonical CBOR of at most `maxItems` items (map keys not counted: each goes with a
 * value); throws CanonicalDecodeError, or FLOAT_SEEN for otherwise well-formed input holding a
 * float. Not reentrant (module state), which is fine: decoding never calls out.
 */
export function decodeCanonicalFast(bytes: Uint8Array, maxItems = MAX_DECODED_ITEMS): unknown {
  src = bytes;
  srcBuffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  pos = 0;
  itemsLeft = maxItems;
  floatSeen = false;
  try {
    const value = item();
    if (pos !== bytes.length) fail('trailing bytes after the value');
    if (floatSeen) throw FLOAT_SEEN;
    return value;
  } catch (err) {
    if (err instanceof RangeError) fail('nesting too deep');
    throw err;
  } finally {
    src = EMPTY;
    srcBuffer = EMPTY_BUFFER;
  }
}
