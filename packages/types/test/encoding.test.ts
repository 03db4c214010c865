import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCanonical, decodeTx, encodeCanonical, encodeTx, MedLedgerError, TxType, type Tx } from '../src/index.js';

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
