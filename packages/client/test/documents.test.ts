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
import {
  decodeDocRequest,
  decodeTx,
  fromHex,
  MAX_DOCUMENT_BYTES,
  MedLedgerError,
  toHex,
  type DocumentUploadBody,
  type Tx,
} from '@medledger/types';
import {
  Account,
  ClientErrorCode,
  createDocumentRequest,
  createDocumentUpload,
  DocumentClient,
  openFetchedDocument,
  sealRecord,
  type FetchedDocumentJson,
  type MedLedgerClient,
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
    createDocumentRequest(org, { chainId: 'c1', record: RECORD, purpose: 'emergency', breakGlass: 'unconscious' }),
  );
  assert.equal(verifyDocRequest(req), true);
  assert.equal(req.breakGlass, 'unconscious');
  assert.deepEqual(req.from, org.publicKey);
  // Free text is refused before anything is signed, and the error does not repeat it.
  const freeText = { chainId: 'c1', record: RECORD, purpose: 'emergency', breakGlass: 'John Doe, cardiac arrest' };
  assert.throws(
    () => createDocumentRequest(org, freeText),
    (e: MedLedgerError) =>
      e.code === ClientErrorCode.INVALID_ARGUMENT &&
      e.message.startsWith('breakGlass: expected one of unconscious, ') &&
      !/John|cardiac/.test(e.message),
  );
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
    breakGlass: 'unconscious',
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

/**
 * A document client over just enough of a node for `DocumentClient.write`: anchors commit,
 * uploads fail while `node.failUploads`.
 */
function writeSetup() {
  const org = new Signer(generateKeyPair().secretKey);
  const orgKey = org.publicKey;
  const encKey = generateEncKeyPair().publicKey;
  const node = {
    anchored: [] as Tx[],
    uploads: [] as { record: string; body: DocumentUploadBody }[],
    failUploads: true,
    status: async () => ({ chainId: 'c1' }),
    account: async (address: string) => ({ address, nonce: 0 }),
    submitTx: async (bytes: Uint8Array) => {
      node.anchored.push(decodeTx(bytes));
      return { hash: 'ab'.repeat(32) };
    },
    waitForTx: async (hash: string) => ({ hash, height: 7, index: 0, code: 0, log: '', tx: {} as never }),
    orgs: async () => ({ orgs: [{ id: 'hospital-a', orgKey: toHex(orgKey), encKey: toHex(encKey) }] }),
    patient: async (id: string) => ({ patient: { id, encKey: null } }),
    uploadDocument: async (record: string, body: DocumentUploadBody) => {
      node.uploads.push({ record, body });
      if (node.failUploads) throw new MedLedgerError('NOT_READY', 'starting', { status: 503 });
      return { record, size: fromHex(body.ciphertext).length, stored: true };
    },
  };
  const docs = new DocumentClient({
    client: node as unknown as MedLedgerClient,
    account: new Account({ signer: org, client: node, chainId: 'c1' }),
  });
  return { node, docs };
}

test('write: a document over the limit is refused before anything is anchored or sent', async () => {
  const { node, docs } = writeSetup();
  const input = { patient: '0b'.repeat(16), resourceType: 'Observation' };
  await assert.rejects(docs.write({ ...input, content: new Uint8Array(MAX_DOCUMENT_BYTES) }), {
    code: ClientErrorCode.DOCUMENT_TOO_LARGE,
  });
  assert.equal(node.anchored.length, 0);
  assert.equal(node.uploads.length, 0);
});

test('write: an upload failing after the anchor names the anchored record; its sealed copy can be uploaded again', async () => {
  const { node, docs } = writeSetup();
  const input = { patient: '0b'.repeat(16), resourceType: 'Observation', content };
  const failed = await docs.write(input).then(
    () => assert.fail('the upload failed: write must throw'),
    (err: unknown) => err as MedLedgerError,
  );
  assert.equal(node.anchored.length, 1);
  const record = (node.anchored[0]!.payload as { record: string }).record;
  assert.equal(failed.code, ClientErrorCode.DOCUMENT_NOT_STORED);
  assert.equal(failed.meta.record, record);
  assert.equal(failed.meta.cause, 'NOT_READY');
  assert.match(failed.message, new RegExp(`record ${record} is anchored .* not stored .*NOT_READY.*new version`));

  // What a caller that sealed and anchored itself does: the same sealed record, signed afresh.
  node.failUploads = false;
  const sealed = sealRecord({ record: RECORD, content, authorEncKey: generateEncKeyPair().publicKey });
  assert.deepEqual(await docs.upload(RECORD, sealed), { record: RECORD, size: sealed.ciphertext.length, stored: true });
  assert.equal(node.uploads.at(-1)!.body.ciphertext, toHex(sealed.ciphertext));
});
