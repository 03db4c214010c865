import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeTx,
  encodeVote,
  GovActionType,
  MedLedgerError,
  OrgKind,
  toHex,
  TxType,
  txSignBytes,
  VoteType,
  voteSignBytes,
  type TxPayloads,
} from '@medledger/types';
import { generateEncKeyPair, generateKeyPair, sha256, Signer, verifySignature } from '@medledger/crypto';
import {
  createAccessLogPayload,
  createConsentGrantPayload,
  createConsentRevokePayload,
  createDocumentRequest,
  createPatientClaimPayload,
  createPatientRegisterPayload,
  createRecordAnchorPayload,
  createSignedTx,
  randomId,
} from '../src/index.js';

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

/** A conflicting vote of `signer` (evidence carries two of them). */
const vote = (blockHash: Uint8Array) => {
  const v = { type: VoteType.Precommit, height: 7, round: 1, blockHash };
  return encodeVote({ ...v, validator: signer.address, signature: signer.sign(voteSignBytes('c1', v)) });
};

/**
 * One valid payload per tx type, the optional fields filled in so the decode has them all to
 * carry. Partial on purpose: a tx type added to TxType without a sample here fails the test
 * below (naming the type) rather than the build.
 */
const SAMPLES: { [T in TxType]?: TxPayloads[T] } = {
  [TxType.PatientRegister]: createPatientRegisterPayload({
    account: toHex(signer.publicKey),
    encKey: generateEncKeyPair().publicKey,
  }),
  [TxType.PatientClaim]: createPatientClaimPayload({
    chainId: 'test-chain',
    patient: randomId(),
    account: new Signer(generateKeyPair().secretKey),
  }),
  [TxType.RecordAnchor]: createRecordAnchorPayload({
    patient: randomId(),
    resourceType: 'Observation',
    contentHash: sha256('ciphertext'),
    size: 2 ** 33,
    previous: randomId(),
  }),
  [TxType.ConsentGrant]: createConsentGrantPayload({
    patient: randomId(),
    grantee: 'hospital-b',
    types: ['Observation', 'DiagnosticReport'],
    records: [randomId()],
    purpose: 'treatment',
    expires: 1_900_000_000_000,
  }),
  [TxType.ConsentRevoke]: createConsentRevokePayload({ consent: randomId() }),
  [TxType.AccessLog]: createAccessLogPayload({ record: randomId(), purpose: 'treatment', breakGlass: 'unconscious' }),
  [TxType.Evidence]: { voteA: vote(sha256('a')), voteB: vote(sha256('b')) },
  [TxType.AccessServe]: {
    request: createDocumentRequest(signer, { chainId: 'c1', record: randomId(), purpose: 'treatment' }),
    consent: randomId(),
  },
  [TxType.RecordErase]: { record: randomId() },
  [TxType.GovPropose]: {
    proposal: randomId(),
    action: {
      type: GovActionType.MemberAdd,
      org: {
        id: 'lab-c',
        name: 'Lab C',
        kind: OrgKind.Lab,
        orgKey: generateKeyPair().publicKey,
        encKey: generateEncKeyPair().publicKey,
        nodeKeys: [generateKeyPair().publicKey],
      },
      validator: { pubKey: generateKeyPair().publicKey, name: 'lab-c-0' },
    },
  },
  [TxType.GovVote]: { proposal: randomId(), approve: true },
  [TxType.OrgRotateKey]: { newKey: generateKeyPair().publicKey },
};

test('every payload type signs and decodes', () => {
  const types: string[] = Object.values(TxType);
  const stale = Object.keys(SAMPLES).filter((t) => !types.includes(t));
  assert.deepEqual(stale, [], 'samples for types TxType no longer has');
  for (const [i, type] of Object.values(TxType).entries()) {
    const payload = SAMPLES[type];
    assert.ok(payload !== undefined, `no sample payload for tx type ${type}: add one to SAMPLES`);
    const { bytes, tx, hash } = createSignedTx(signer, { chainId: 'c1', type, nonce: i + 1, payload });
    const decoded = decodeTx(bytes);
    assert.deepEqual(decoded, tx, type);
    assert.deepEqual(decoded, {
      chainId: 'c1',
      type,
      from: signer.publicKey,
      nonce: i + 1,
      payload,
      signature: tx.signature,
    });
    assert.equal(verifySignature(signer.publicKey, txSignBytes(decoded), decoded.signature), true, type);
    assert.equal(hash, toHex(sha256(bytes)), type);
  }
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
