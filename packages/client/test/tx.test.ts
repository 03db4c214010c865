import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTx, MedLedgerError, toHex, TxType, txSignBytes } from '@medledger/types';
import { generateKeyPair, sha256, Signer, verifySignature } from '@medledger/crypto';
import { createPatientRegisterPayload, createSignedTx, randomId } from '../src/index.js';

const signer = new Signer(generateKeyPair().secretKey);
const code = (c: string) => (e: unknown) => e instanceof MedLedgerError && e.code === c;

test('a signed tx decodes back to itself, its signature verifies and its hash is sha256 of the bytes', () => {
  const payload = { consent: randomId() };
  const { tx, bytes, hash } = createSignedTx(signer, {
    chainId: 'medledger-test',
    type: TxType.ConsentRevoke,
    nonce: 3,
    payload,
  });
  const decoded = decodeTx(bytes);
  assert.deepEqual(decoded, tx);
  assert.deepEqual(decoded.from, signer.publicKey);
  assert.equal(decoded.nonce, 3);
  assert.equal(verifySignature(decoded.from, txSignBytes(decoded), decoded.signature), true);
  assert.equal(hash, toHex(sha256(bytes)));
  // The signature is bound to the chain id: the same tx on another chain does not verify.
  assert.equal(verifySignature(decoded.from, txSignBytes({ ...decoded, chainId: 'other' }), decoded.signature), false);
});

test('every payload type signs and decodes', () => {
  const patient = createPatientRegisterPayload({ account: toHex(signer.publicKey) });
  const { bytes, tx } = createSignedTx(signer, {
    chainId: 'c1',
    type: TxType.PatientRegister,
    nonce: 1,
    payload: patient,
  });
  assert.deepEqual(decodeTx(bytes).payload, tx.payload);
});

test('createSignedTx refuses a bad chain id, nonce or payload before signing', () => {
  const payload = { consent: randomId() };
  assert.throws(
    () => createSignedTx(signer, { chainId: 'Bad Chain', type: TxType.ConsentRevoke, nonce: 1, payload }),
    code('INVALID_ARGUMENT'),
  );
  assert.throws(
    () => createSignedTx(signer, { chainId: 'c', type: TxType.ConsentRevoke, nonce: -1, payload }),
    code('INVALID_ARGUMENT'),
  );
  assert.throws(
    () => createSignedTx(signer, { chainId: 'c', type: TxType.ConsentRevoke, nonce: 1.5, payload }),
    code('INVALID_ARGUMENT'),
  );
  assert.throws(
    () => createSignedTx(signer, { chainId: 'c', type: TxType.ConsentRevoke, nonce: 1, payload: { consent: 'x' } }),
    (e: unknown) => code('INVALID_SHAPE')(e) && /payload\.consent/.test((e as Error).message),
  );
});

test('randomId is 32 lowercase hex characters and does not repeat', () => {
  const ids = new Set(Array.from({ length: 1000 }, randomId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{32}$/);
});
