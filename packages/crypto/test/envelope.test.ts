import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { x25519 } from '@noble/curves/ed25519.js';
import { decodeDocRequest, toHex } from '@medledger/types';
import {
  CryptoErrorCode,
  decryptDocument,
  documentAad,
  encPublicKeyFromSecret,
  EncKey,
  encryptDocument,
  generateDataKey,
  generateEncKeyPair,
  generateKeyPair,
  openDocument,
  readEncKeyFile,
  readKeyFile,
  rewrapDataKey,
  sealDocument,
  SEAL_OVERHEAD_BYTES,
  signDocRequest,
  Signer,
  unwrapDataKey,
  verifyDocRequest,
  wrapDataKey,
  WRAPPED_KEY_BYTES,
  writeKeyFile,
} from '../src/index.js';

const RECORD = 'ab'.repeat(16);
const OTHER_RECORD = 'cd'.repeat(16);
const fhir = new TextEncoder().encode(
  JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'Blood glucose' } }),
);
const decryptFailed = (err: unknown) => (err as { code?: string }).code === CryptoErrorCode.DECRYPT_FAILED;

test('x25519 keys: node:crypto and @noble/curves agree on public keys and shared secrets', () => {
  const a = generateEncKeyPair();
  const b = generateEncKeyPair();
  assert.equal(a.publicKey.length, 32);
  assert.deepEqual(encPublicKeyFromSecret(a.secretKey), a.publicKey);
  assert.deepEqual(x25519.getPublicKey(a.secretKey), a.publicKey);
  // Independent implementation of the agreement the wrap relies on.
  assert.deepEqual(x25519.getSharedSecret(a.secretKey, b.publicKey), x25519.getSharedSecret(b.secretKey, a.publicKey));
  // A data key wrapped by node:crypto opens with a key derived by @noble/curves from the same scalar.
  const w = wrapDataKey(generateDataKey(), b.publicKey, documentAad(RECORD));
  assert.equal(unwrapDataKey(w, b.secretKey, documentAad(RECORD)).length, 32);
});

test('round trip: every recipient opens the document; the ciphertext is not the plaintext', () => {
  const patient = generateEncKeyPair();
  const author = generateEncKeyPair();
  const { ciphertext, wrappedKeys } = encryptDocument(fhir, RECORD, [patient.publicKey, author.publicKey]);
  assert.equal(ciphertext.length, fhir.length + SEAL_OVERHEAD_BYTES);
  assert.equal(wrappedKeys.length, 2);
  for (const w of wrappedKeys) assert.equal(w.length, WRAPPED_KEY_BYTES);
  assert.equal(Buffer.from(ciphertext).indexOf(Buffer.from('Blood glucose')), -1);
  assert.deepEqual(decryptDocument(ciphertext, wrappedKeys[0]!, patient.secretKey, RECORD), fhir);
  assert.deepEqual(decryptDocument(ciphertext, wrappedKeys[1]!, new EncKey(author.secretKey), RECORD), fhir);
  // Any bytes, not only JSON; and the empty document.
  const binary = new Uint8Array(70_000).map((_, i) => (i * 31) & 0xff);
  const sealed = encryptDocument(binary, RECORD, [patient.publicKey]);
  assert.deepEqual(decryptDocument(sealed.ciphertext, sealed.wrappedKeys[0]!, patient.secretKey, RECORD), binary);
  const empty = encryptDocument(new Uint8Array(0), RECORD, [patient.publicKey]);
  assert.equal(decryptDocument(empty.ciphertext, empty.wrappedKeys[0]!, patient.secretKey, RECORD).length, 0);
});

test('two encryptions of one document share nothing: fresh data key, nonce and ephemeral key', () => {
  const r = generateEncKeyPair();
  const a = encryptDocument(fhir, RECORD, [r.publicKey]);
  const b = encryptDocument(fhir, RECORD, [r.publicKey]);
  assert.notDeepEqual(a.ciphertext, b.ciphertext);
  assert.notDeepEqual(a.wrappedKeys[0], b.wrappedKeys[0]);
  assert.notDeepEqual(
    unwrapDataKey(a.wrappedKeys[0]!, r.secretKey, documentAad(RECORD)),
    unwrapDataKey(b.wrappedKeys[0]!, r.secretKey, documentAad(RECORD)),
  );
});

test('a wrong recipient cannot open the document', () => {
  const patient = generateEncKeyPair();
  const outsider = generateEncKeyPair();
  const { ciphertext, wrappedKeys } = encryptDocument(fhir, RECORD, [patient.publicKey]);
  assert.throws(() => decryptDocument(ciphertext, wrappedKeys[0]!, outsider.secretKey, RECORD), decryptFailed);
  // Nor can the right recipient open it as another record (context binding).
  assert.throws(() => decryptDocument(ciphertext, wrappedKeys[0]!, patient.secretKey, OTHER_RECORD), decryptFailed);
});

test('a tampered ciphertext or wrapped key fails, whatever byte changed', () => {
  const r = generateEncKeyPair();
  const { ciphertext, wrappedKeys } = encryptDocument(fhir, RECORD, [r.publicKey]);
  for (const i of [0, 1, 12, 13, Math.floor(ciphertext.length / 2), ciphertext.length - 1]) {
    const bad = ciphertext.slice();
    bad[i]! ^= 0x01;
    assert.throws(() => decryptDocument(bad, wrappedKeys[0]!, r.secretKey, RECORD), decryptFailed, `byte ${i}`);
  }
  assert.throws(() => decryptDocument(ciphertext.subarray(0, 10), wrappedKeys[0]!, r.secretKey, RECORD), decryptFailed);
  const wrapped = wrappedKeys[0]!;
  for (const i of [0, 1, 33, 45, 50, wrapped.length - 1]) {
    const bad = wrapped.slice();
    bad[i]! ^= 0x80;
    assert.throws(() => decryptDocument(ciphertext, bad, r.secretKey, RECORD), decryptFailed, `wrapped byte ${i}`);
  }
  assert.throws(() => decryptDocument(ciphertext, wrapped.subarray(1), r.secretKey, RECORD), decryptFailed);
});

test('seal and open with a data key; associated data is checked', () => {
  const key = generateDataKey();
  const sealed = sealDocument(fhir, key, documentAad(RECORD));
  assert.deepEqual(openDocument(sealed, key, documentAad(RECORD)), fhir);
  assert.throws(() => openDocument(sealed, key, documentAad(OTHER_RECORD)), decryptFailed);
  assert.throws(() => openDocument(sealed, generateDataKey(), documentAad(RECORD)), decryptFailed);
  assert.throws(() => sealDocument(fhir, key.subarray(1), documentAad(RECORD)), /32 bytes/);
});

test('re-wrapping: the holder turns its copy into a grantee copy without seeing more than the key', () => {
  const author = generateEncKeyPair();
  const grantee = generateEncKeyPair();
  const { ciphertext, wrappedKeys } = encryptDocument(fhir, RECORD, [author.publicKey]);
  const forGrantee = rewrapDataKey(wrappedKeys[0]!, new EncKey(author.secretKey), grantee.publicKey, RECORD);
  assert.deepEqual(decryptDocument(ciphertext, forGrantee, grantee.secretKey, RECORD), fhir);
  assert.throws(() => rewrapDataKey(wrappedKeys[0]!, new EncKey(grantee.secretKey), grantee.publicKey, RECORD));
});

test('low-order and malformed public keys are refused', () => {
  const key = generateDataKey();
  assert.throws(() => wrapDataKey(key, new Uint8Array(32), documentAad(RECORD)), { code: CryptoErrorCode.BAD_KEY });
  assert.throws(() => wrapDataKey(key, new Uint8Array(31), documentAad(RECORD)), { code: CryptoErrorCode.BAD_KEY });
  assert.throws(() => encryptDocument(fhir, RECORD, []), { code: CryptoErrorCode.BAD_KEY });
});

test('EncKey and its JSON form never show the secret', () => {
  const kp = generateEncKeyPair();
  const k = new EncKey(kp.secretKey);
  const shown = JSON.stringify({ k });
  assert.ok(!shown.includes(toHex(kp.secretKey)));
  assert.ok(shown.includes(toHex(kp.publicKey)));
});

test('x25519 key files: plain and encrypted round trips; type is checked', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'medledger-enckey-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kp = generateEncKeyPair();
  writeKeyFile(join(dir, 'enc.key'), kp, undefined, 'x25519');
  assert.deepEqual(readEncKeyFile(join(dir, 'enc.key')).secretKey, kp.secretKey);
  assert.equal(JSON.parse(readFileSync(join(dir, 'enc.key'), 'utf8')).type, 'x25519');
  writeKeyFile(join(dir, 'enc-sealed.key'), kp, 'correct horse', 'x25519');
  const sealed = readEncKeyFile(join(dir, 'enc-sealed.key'), 'correct horse');
  assert.deepEqual(sealed.publicKey, kp.publicKey);
  assert.equal(sealed.encrypted, true);
  assert.ok(!readFileSync(join(dir, 'enc-sealed.key'), 'utf8').includes(toHex(kp.secretKey)));
  // An enc key is not a signing key and the other way round.
  assert.throws(() => readKeyFile(join(dir, 'enc.key')), { code: CryptoErrorCode.KEYFILE_INVALID });
  writeKeyFile(join(dir, 'org.key'), generateKeyPair());
  assert.throws(() => readEncKeyFile(join(dir, 'org.key')), { code: CryptoErrorCode.KEYFILE_INVALID });
});

test('document requests: signed by the org key, any change breaks the signature', () => {
  const org = new Signer(generateKeyPair().secretKey);
  const { request, bytes } = signDocRequest(org, {
    chainId: 'medledger-test',
    record: RECORD,
    purpose: 'treatment',
    breakGlass: null,
    time: 1_700_000_000_000,
  });
  assert.equal(verifyDocRequest(request), true);
  assert.deepEqual(decodeDocRequest(bytes), request);
  assert.equal(verifyDocRequest({ ...request, purpose: 'research' }), false);
  assert.equal(verifyDocRequest({ ...request, record: OTHER_RECORD }), false);
  assert.equal(verifyDocRequest({ ...request, breakGlass: 'unconscious' }), false);
  // A request claiming another org's key with this signature: refused.
  const other = new Signer(generateKeyPair().secretKey);
  assert.equal(verifyDocRequest({ ...request, from: other.publicKey }), false);
});
