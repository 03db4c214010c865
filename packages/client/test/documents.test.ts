import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decryptDocument,
  EncKey,
  generateEncKeyPair,
  generateKeyPair,
  sha256,
  Signer,
  verifyDocRequest,
  verifyDocUpload,
} from '@medledger/crypto';
import { decodeDocRequest, fromHex, toHex } from '@medledger/types';
import {
  ClientErrorCode,
  createDocumentRequest,
  createDocumentUpload,
  openFetchedDocument,
  sealRecord,
  type FetchedDocumentJson,
} from '../src/index.js';

const RECORD = '0a'.repeat(16);
const content = new TextEncoder().encode('{"resourceType":"Observation","status":"final"}');

test('sealRecord wraps for the author and the patient; the hash is of the ciphertext', () => {
  const author = generateEncKeyPair();
  const patient = generateEncKeyPair();
  const sealed = sealRecord({
    record: RECORD,
    content,
    authorEncKey: author.publicKey,
    patientEncKey: patient.publicKey,
  });
  assert.deepEqual(sealed.contentHash, sha256(sealed.ciphertext));
  assert.notDeepEqual(sealed.contentHash, sha256(content));
  assert.deepEqual(decryptDocument(sealed.ciphertext, sealed.authorKey, author.secretKey, RECORD), content);
  assert.deepEqual(decryptDocument(sealed.ciphertext, sealed.patientKey!, patient.secretKey, RECORD), content);
  // A patient without an enc key: the author organisation only.
  const authorOnly = sealRecord({ record: RECORD, content, authorEncKey: author.publicKey, patientEncKey: null });
  assert.equal(authorOnly.patientKey, null);
});

test('uploads and document requests are signed by the org key and verify', () => {
  const org = new Signer(generateKeyPair().secretKey);
  const sealed = sealRecord({ record: RECORD, content, authorEncKey: generateEncKeyPair().publicKey });
  const body = createDocumentUpload(org, { chainId: 'c1', record: RECORD, sealed, time: 1000 });
  const fields = {
    chainId: 'c1',
    record: RECORD,
    contentHash: sha256(fromHex(body.ciphertext)),
    authorKey: fromHex(body.authorKey),
    patientKey: null,
    time: body.time,
    from: fromHex(body.from),
  };
  assert.equal(verifyDocUpload(fields, fromHex(body.signature)), true);
  assert.equal(verifyDocUpload({ ...fields, time: 1001 }, fromHex(body.signature)), false);

  const req = decodeDocRequest(
    createDocumentRequest(org, { chainId: 'c1', record: RECORD, purpose: 'emergency', breakGlass: 'cardiac arrest' }),
  );
  assert.equal(verifyDocRequest(req), true);
  assert.equal(req.breakGlass, 'cardiac arrest');
  assert.deepEqual(req.from, org.publicKey);
});

test('a fetched ciphertext that does not match the anchored hash is refused before decrypting', () => {
  const reader = generateEncKeyPair();
  const sealed = sealRecord({ record: RECORD, content, authorEncKey: reader.publicKey });
  const fetched: FetchedDocumentJson = {
    record: RECORD,
    contentHash: toHex(sealed.contentHash),
    ciphertext: toHex(sealed.ciphertext),
    wrappedKey: toHex(sealed.authorKey),
    consent: null,
    breakGlass: 'x',
    accessTx: '00'.repeat(32),
    holder: 'peer',
  };
  const key = new EncKey(reader.secretKey);
  assert.deepEqual(openFetchedDocument(fetched, toHex(sealed.contentHash), key), content);
  const tampered = sealed.ciphertext.slice();
  tampered[tampered.length - 3]! ^= 0x40;
  // Even when the served answer claims a matching hash: the caller's hash comes from the chain.
  const lying = { ...fetched, ciphertext: toHex(tampered), contentHash: toHex(sha256(tampered)) };
  assert.throws(() => openFetchedDocument(lying, toHex(sealed.contentHash), key), {
    code: ClientErrorCode.HASH_MISMATCH,
  });
});
