import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeByteStrings,
  decodeCanonical,
  decodeTx,
  encodeCanonical,
  encodeTx,
  encodedTxSignBytes,
  MedLedgerError,
  txSignBytes,
  TxType,
  type Tx,
} from '../src/index.js';
import fc from 'fast-check';

const sampleTx = (): Tx => ({
  chainId: 'test-chain',
  type: TxType.ConsentRevoke,
  from: new Uint8Array(32).fill(1),
  nonce: 7,
  payload: { consent: 'ab'.repeat(16) },
  signature: new Uint8Array(64).fill(2),
});

test('canonical encoding sorts map keys, so field order does not change the bytes', () => {
  assert.deepEqual(encodeCanonical({ b: 1, a: 2 }), encodeCanonical({ a: 2, b: 1 }));
});

test('decodeCanonical rejects bytes that are not the canonical encoding', () => {
  // {"b":1,"a":2} with keys in non-canonical order: a2 61 62 01 61 61 02
  const unsorted = new Uint8Array([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02]);
  assert.throws(
    () => decodeCanonical(unsorted),
    (e: unknown) => e instanceof MedLedgerError,
  );
  // A non-minimal integer (1 encoded in two bytes).
  assert.throws(
    () => decodeCanonical(new Uint8Array([0x18, 0x01])),
    (e: unknown) => e instanceof MedLedgerError,
  );
});

test('a tx survives encode/decode unchanged', () => {
  const tx = sampleTx();
  assert.deepEqual(decodeTx(encodeTx(tx)), tx);
});

test('sign bytes cut from an encoded tx equal the sign bytes encoded from its fields', () => {
  const anchor = fc.record({
    record: fc.stringMatching(/^[0-9a-f]{32}$/),
    patient: fc.stringMatching(/^[0-9a-f]{32}$/),
    resourceType: fc.stringMatching(/^[A-Z][A-Za-z]{1,63}$/),
    contentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    size: fc.nat(),
    previous: fc.option(fc.stringMatching(/^[0-9a-f]{32}$/)),
  });
  const tx = fc.record({
    chainId: fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/),
    type: fc.constant(TxType.RecordAnchor),
    from: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    nonce: fc.maxSafeNat(),
    payload: anchor,
    signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  });
  fc.assert(
    fc.property(tx, (t) => {
      const bytes = encodeTx(t as Tx);
      const decoded = decodeTx(bytes);
      assert.deepEqual(encodedTxSignBytes(bytes), txSignBytes(decoded));
    }),
  );
  assert.deepEqual(encodedTxSignBytes(encodeTx(sampleTx())), txSignBytes(sampleTx()));
});

test('sign bytes are not cut from bytes that are not an encoded tx', () => {
  const bytes = encodeTx(sampleTx());
  for (const bad of [
    new Uint8Array(0),
    bytes.subarray(0, 60),
    bytes.subarray(0, bytes.length - 1),
    encodeCanonical([1, 2, 3]),
  ]) {
    assert.throws(
      () => encodedTxSignBytes(bad),
      (e: unknown) => e instanceof MedLedgerError,
    );
  }
});

test('decodeTx names the field that is wrong, never what the client put in it', () => {
  const refused = (tx: unknown, code: string, field: RegExp) =>
    assert.throws(
      () => decodeTx(encodeTx(tx as Tx)),
      (e: MedLedgerError) => {
        assert.equal(e.code, code);
        assert.match(e.message, field);
        assert.doesNotMatch(e.message, /Jane|Doe/);
        return true;
      },
    );
  refused({ ...sampleTx(), payload: { consent: 'Jane Doe' } }, 'INVALID_SHAPE', /payload\.consent/);
  refused({ ...sampleTx(), type: 'Jane Doe DOB 1970-01-01' }, 'UNKNOWN_TX_TYPE', /^type: /);
  const extraField = { consent: 'ab'.repeat(16), 'Jane Doe': 1 };
  refused({ ...sampleTx(), payload: extraField }, 'INVALID_SHAPE', /^payload: expected only consent$/);
  // A value cborg decodes (it holds a float) with a repeated key: cborg's own message quotes the key.
  const repeatedKey = Buffer.from('a2684a616e6520446f65f93e00684a616e6520446f6501', 'hex');
  assert.throws(
    () => decodeCanonical(repeatedKey),
    (e: MedLedgerError) => e.code === 'ENCODING_INVALID' && !/Jane|Doe/.test(e.message),
  );
});

test('decodeByteStrings reads what encodeCanonical writes for arrays of byte strings, as copies', () => {
  for (const lengths of [[], [0], [1, 23, 24, 255, 256], [65_535, 65_536, 3]]) {
    const items = lengths.map((n, i) => new Uint8Array(n).fill(i + 1));
    const bytes = encodeCanonical(items);
    const decoded = decodeByteStrings(bytes, 10);
    assert.deepEqual(decoded, items);
    for (const d of decoded) assert.notEqual(d.buffer, bytes.buffer);
  }
  const many = Array.from({ length: 300 }, (_, i) => new Uint8Array([i & 0xff]));
  assert.deepEqual(decodeByteStrings(encodeCanonical(many), 300), many);
});

test('decodeByteStrings refuses anything but a canonical array of byte strings', () => {
  const code = (bytes: number[], max = 10): string => {
    try {
      decodeByteStrings(new Uint8Array(bytes), max);
    } catch (err) {
      assert.ok(err instanceof MedLedgerError);
      return err.code;
    }
    return 'accepted';
  };
  assert.equal(code([0x81, 0x41, 0x07]), 'accepted');
  assert.equal(code([0xa0]), 'INVALID_SHAPE'); // a map
  assert.equal(code([0x81, 0x61, 0x61]), 'INVALID_SHAPE'); // a text string element
  assert.equal(code([0x83, 0x40, 0x40, 0x40], 2), 'INVALID_SHAPE'); // too many
  assert.equal(code([0x98, 0x01, 0x40]), 'ENCODING_NON_CANONICAL'); // count 1 in a 1-byte head
  assert.equal(code([0x81, 0x58, 0x01, 0x07]), 'ENCODING_NON_CANONICAL'); // length 1 in a 1-byte head
  assert.equal(code([0x9f, 0x40, 0xff]), 'ENCODING_INVALID'); // indefinite length
  assert.equal(code([0x81, 0x42, 0x07]), 'ENCODING_INVALID'); // truncated
  assert.equal(code([0x81, 0x40, 0x00]), 'ENCODING_INVALID'); // trailing bytes
  // No CBOR at all is an encoding error, as decodeCanonical says, not a shape error.
  assert.equal(code([]), 'ENCODING_INVALID');
  assert.equal(code([0xff]), 'ENCODING_INVALID');
  assert.equal(code([0x82, 0x41, 0x07]), 'ENCODING_INVALID'); // an array cut short
});
