import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decode, encode } from 'cborg';
import { decodeCanonical, encodeCanonical, MedLedgerError } from '../src/index.js';

// The fast encoder must write exactly what cborg writes, and the fast decoder must accept exactly what "cborg decode, re-encode, compare" accepts, and
// return the same value: that pair is the definition of canonical in ADR 0001.
const GENERAL = {
  strict: true,
  rejectDuplicateMapKeys: true,
  allowUndefined: false,
  allowIndefinite: false,
  allowBigInt: false,
} as const;

function general(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    const value: unknown = decode(bytes, GENERAL);
    return Buffer.from(encode(value)).equals(Buffer.from(bytes)) ? { ok: true, value } : { ok: false };
  } catch {
    return { ok: false };
  }
}

function fast(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; code: string } {
  try {
    return { ok: true, value: decodeCanonical(bytes) };
  } catch (err) {
    assert.ok(err instanceof MedLedgerError, `not a MedLedgerError: ${String(err)}`);
    return { ok: false, code: err.code };
  }
}

const { value: valueArb } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.integer({ min: -300, max: 70_000 }),
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.oneof(fc.string({ unit: 'binary', maxLength: 8 }), fc.constant('__proto__')), tie('value'), {
      maxKeys: 6,
    }),
  ),
}));

function sameValue(a: unknown, b: unknown): void {
  assert.deepEqual(a, b);
  // Object key order follows the bytes in both (it shows in JSON views).
  if (a && typeof a === 'object' && !(a instanceof Uint8Array)) {
    assert.deepEqual(Object.keys(a), Object.keys(b as object));
    for (const k of Object.keys(a)) sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]);
  }
}

test('the fast decoder returns what cborg returns for every canonical encoding', () => {
  fc.assert(
    fc.property(valueArb, (v) => {
      const bytes = encodeCanonical(v);
      const want = general(bytes);
      assert.ok(want.ok);
      const got = fast(bytes);
      assert.ok(got.ok, `refused ${Buffer.from(bytes).toString('hex')}`);
      sameValue(got.value, want.value);
    }),
    { numRuns: 3000 },
  );
});

test('on corrupted encodings the fast decoder accepts exactly what decode-re-encode-compare accepts', () => {
  const mutation = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
    byte: fc.integer({ min: 0, max: 255 }),
  });
  fc.assert(
    fc.property(valueArb, fc.array(mutation, { minLength: 1, maxLength: 3 }), (v, mutations) => {
      const bytes = [...encodeCanonical(v)];
      for (const m of mutations) {
        const at = bytes.length === 0 ? 0 : m.at % bytes.length;
        if (m.kind === 'flip') bytes[at] = bytes[at]! ^ (1 << (m.byte % 8));
        else if (m.kind === 'set') bytes[at] = m.byte;
        else if (m.kind === 'insert') bytes.splice(at, 0, m.byte);
        else if (m.kind === 'delete') bytes.splice(at, 1);
        else bytes.length = at;
      }
      const input = new Uint8Array(bytes);
      const want = general(input);
      const got = fast(input);
      if (got.ok) {
        // Whatever it accepts is canonical: it encodes back to the same bytes.
        assert.ok(Buffer.from(encode(got.value)).equals(Buffer.from(input)));
      }
      if (want.ok) {
        assert.ok(got.ok, `refused canonical ${Buffer.from(input).toString('hex')}`);
        sameValue(got.value, want.value);
      }
    }),
    { numRuns: 20_000 },
  );
});

test('the fast decoder names what is wrong', () => {
  const code = (hex: string): string => {
    const r = fast(Buffer.from(hex, 'hex'));
    return r.ok ? 'accepted' : r.code;
  };
  assert.equal(code('a2616101616202'), 'accepted'); // {a:1, b:2}
  assert.equal(code('a2616201616102'), 'ENCODING_NON_CANONICAL'); // keys out of order
  assert.equal(code('a2616101616102'), 'ENCODING_INVALID'); // repeated key
  assert.equal(code('1817'), 'ENCODING_NON_CANONICAL'); // 23 in a one-byte head
  assert.equal(code('9f01ff'), 'ENCODING_INVALID'); // indefinite length
  assert.equal(code('c11a514b67b0'), 'ENCODING_INVALID'); // a tag
  assert.equal(code('f7'), 'ENCODING_INVALID'); // undefined
  assert.equal(code('1bffffffffffffffff'), 'ENCODING_INVALID'); // beyond safe integers
  assert.equal(code('62c328'), 'ENCODING_INVALID'); // invalid UTF-8
  assert.equal(code('0101'), 'ENCODING_INVALID'); // trailing bytes
  assert.equal(code('a10101'), 'ENCODING_INVALID'); // an integer map key
  assert.equal(code('9a7fffffff'), 'ENCODING_INVALID'); // a count beyond the input
  assert.equal(code('8'.repeat(1) + '1'.repeat(1) + '81'.repeat(20_000) + '00'), 'ENCODING_INVALID'); // too deep
  // Floats never occur in our data but are still judged the general way.
  assert.equal(code('f93e00'), 'accepted'); // 1.5 as a half float
  assert.equal(code('fb3ff8000000000000'), 'ENCODING_NON_CANONICAL'); // 1.5 in a double
});

test('a decode stops at its item budget, before building what the rest of the input announces', () => {
  const tooLarge = (bytes: Uint8Array, maxItems?: number) =>
    assert.throws(
      () => decodeCanonical(bytes, maxItems),
      (e: unknown) => e instanceof MedLedgerError && e.code === 'TOO_LARGE',
    );
  // An array of 2^24 empty byte strings: 16 MB that would be 16 million objects.
  const flood = new Uint8Array(5 + (1 << 24)).fill(0x40);
  flood.set([0x9a, 0x01, 0x00, 0x00, 0x00]);
  tooLarge(flood);
  // The budget counts every item, nested ones too; map keys go with their values.
  const value = [1, [2, 3], { a: new Uint8Array(2), b: 'x' }];
  const bytes = encodeCanonical(value);
  assert.deepEqual(decodeCanonical(bytes, 8), value);
  tooLarge(bytes, 7);
  // A float inside the budget is still judged the general way; one past it is refused first.
  assert.deepEqual(decodeCanonical(Buffer.from('82f93e0001', 'hex'), 3), [1.5, 1]);
  tooLarge(Buffer.from('82f93e0001', 'hex'), 2);
});

test('the fast encoder writes the bytes cborg writes, and leaves other values to cborg', () => {
  const withOthers = fc.oneof(
    valueArb,
    fc.array(fc.oneof(valueArb, fc.double(), fc.constant(undefined), fc.bigInt({ min: 1n << 60n, max: 1n << 62n }))),
  );
  fc.assert(
    fc.property(withOthers, (v) => {
      assert.ok(Buffer.from(encodeCanonical(v)).equals(Buffer.from(encode(v))));
    }),
    { numRuns: 5000 },
  );
  // Consecutive calls do not share bytes (the encoder reuses one buffer internally).
  const a = encodeCanonical({ a: new Uint8Array(100).fill(1) });
  encodeCanonical({ a: new Uint8Array(100).fill(2) });
  assert.ok(a.subarray(5).every((b) => b === 1)); // after the 5 head bytes
  // Key sets whose joined names look alike are still told apart.
  for (const o of [
    { 'a\u0000b': 1, c: 2 },
    { a: 1, 'b\u0000c': 2 },
    { 'a\u0000b': 1, c: 2 },
  ]) {
    assert.ok(Buffer.from(encodeCanonical(o)).equals(Buffer.from(encode(o))));
  }
  // A buffer larger than the internal one at first.
  const big = new Uint8Array(200_000).fill(7);
  assert.ok(Buffer.from(encodeCanonical([big, 'x'])).equals(Buffer.from(encode([big, 'x']))));
});
