/**
 * The encoder behind `encodeCanonical` for the values our data is made of: null, booleans,
 * safe integers, strings, byte strings, arrays and plain objects with their keys sorted as
 * cborg sorts them (shorter UTF-8 first, then bytewise). It writes the same bytes as cborg
 * (property-tested against it) into one reused buffer, without cborg's per-value type probing
 * and byte lists. Anything else (floats, undefined, class instances, Maps) throws
 * `OTHER_VALUE` and the caller hands the whole value to cborg.
 */

export const OTHER_VALUE = Symbol('other value');

let buf = Buffer.allocUnsafe(64 * 1024);
let pos = 0;

function room(n: number): void {
  if (pos + n <= buf.length) return;
  const next = Buffer.allocUnsafe(Math.max(buf.length * 2, pos + n));
  buf.copy(next, 0, 0, pos);
  buf = next;
}

function head(major: number, n: number): void {
  room(9);
  const m = major << 5;
  if (n < 24) {
    buf[pos++] = m | n;
  } else if (n < 0x100) {
    buf[pos++] = m | 24;
    buf[pos++] = n;
  } else if (n < 0x10000) {
    buf[pos++] = m | 25;
    buf.writeUInt16BE(n, pos);
    pos += 2;
  } else if (n < 0x100000000) {
    buf[pos++] = m | 26;
    buf.writeUInt32BE(n, pos);
    pos += 4;
  } else {
    buf[pos++] = m | 27;
    buf.writeUInt32BE(Math.floor(n / 0x100000000), pos);
    buf.writeUInt32BE(n >>> 0, pos + 4);
    pos += 8;
  }
}

/**
 * Per key set (objects of one kind share it): the order to write the keys in and each key's
 * encoded bytes. Records, txs and votes repeat the same few shapes millions of times.
 */
interface Shape {
  keys: string[];
  order: number[];
  encodedKeys: Uint8Array[];
}
const shapes = new Map<string, Shape>();
const MAX_SHAPES = 1024;

function shapeOf(keys: string[]): Shape {
  const id = keys.join('\u0000');
  let shape = shapes.get(id);
  // The id could collide for keys holding the separator: the cached keys must match.
  if (shape !== undefined && shape.keys.length === keys.length && shape.keys.every((k, i) => k === keys[i]))
    return shape;
  const utf8 = keys.map((k) => Buffer.from(k, 'utf8'));
  const order = keys.map((_, i) => i);
  order.sort((a, b) => utf8[a]!.length - utf8[b]!.length || Buffer.compare(utf8[a]!, utf8[b]!));
  const encodedKeys = utf8.map((k) => {
    const start = pos;
    head(3, k.length);
    const h = buf.subarray(start, pos);
    pos = start;
    return Uint8Array.from([...h, ...k]);
  });
  shape = { keys, order, encodedKeys };
  if (shapes.size < MAX_SHAPES) shapes.set(id, shape);
  return shape;
}

function raw(bytes: Uint8Array): void {
  room(bytes.length);
  if (bytes.length < 64) for (let i = 0; i < bytes.length; i++) buf[pos++] = bytes[i]!;
  else {
    buf.set(bytes, pos);
    pos += bytes.length;
  }
}

function string(v: string): void {
  // ASCII (nearly all our strings) is written by hand: a native call per short string costs more.
  const n = v.length;
  if (n < 128) {
    room(n + 2);
    const start = pos;
    head(3, n);
    let i = 0;
    for (; i < n; i++) {
      const c = v.charCodeAt(i);
      if (c >= 0x80) break;
      buf[pos++] = c;
    }
    if (i === n) return;
    pos = start;
  }
  const len = Buffer.byteLength(v, 'utf8');
  head(3, len);
  room(len);
  pos += buf.write(v, pos, len, 'utf8');
}

function value(v: unknown): void {
  switch (typeof v) {
    case 'string':
      string(v);
      return;
    case 'number':
      if (!Number.isSafeInteger(v)) throw OTHER_VALUE;
      if (v >= 0) head(0, v);
      else head(1, -v - 1);
      return;
    case 'boolean':
      room(1);
      buf[pos++] = v ? 0xf5 : 0xf4;
      return;
    case 'object':
      if (v === null) {
        room(1);
        buf[pos++] = 0xf6;
      } else if (v instanceof Uint8Array) {
        head(2, v.length);
        raw(v);
      } else if (Array.isArray(v)) {
        head(4, v.length);
        for (const item of v) value(item);
      } else if (v.constructor === Object) {
        object(v as Record<string, unknown>);
      } else {
        throw OTHER_VALUE;
      }
      return;
    default:
      throw OTHER_VALUE;
  }
}

function object(o: Record<string, unknown>): void {
  const keys = Object.keys(o);
  head(5, keys.length);
  if (keys.length === 0) return;
  const { order, encodedKeys } = shapeOf(keys);
  for (const i of order) {
    raw(encodedKeys[i]!);
    value(o[keys[i]!]);
  }
}

/** Encodes `v`, or throws OTHER_VALUE (or a RangeError for a cycle) for cborg to handle. */
export function encodeCanonicalFast(v: unknown): Uint8Array {
  pos = 0;
  value(v);
  const out = new Uint8Array(pos);
  out.set(buf.subarray(0, pos));
  return out;
}
