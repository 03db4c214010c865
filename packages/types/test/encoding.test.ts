import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeByteStrings,
  decodeCanonical,
  decodeTx,
  encodeCanonical,
  encodeTx,
  MedLedgerError,
  TxType,
  type Tx,
} from '../src/index.js';

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

test('decodeTx names the field that is wrong', () => {
  const bad = { ...sampleTx(), payload: { consent: 'not-an-id' } };
  assert.throws(() => decodeTx(encodeTx(bad as Tx)), /payload\.consent/);
  const unknownType = { ...sampleTx(), type: 'wire.transfer' };
  assert.throws(
    () => decodeTx(encodeTx(unknownType as unknown as Tx)),
    (e: MedLedgerError) => e.code === 'UNKNOWN_TX_TYPE',
  );
  const extraField = { ...sampleTx(), payload: { consent: 'ab'.repeat(16), name: 'Jane Doe' } };
  assert.throws(() => decodeTx(encodeTx(extraField as Tx)), /no such field/);
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
  assert.equal(code([]), 'INVALID_SHAPE');
});
