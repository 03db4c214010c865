import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decryptDocument,
  EncKey,
  encryptDocument,
  generateEncKeyPair,
  generateKeyPair,
  SEAL_OVERHEAD_BYTES,
  sha256,
  signDocRequest,
  signDocUpload,
  signTx,
  Signer,
  type X25519KeyPair,
} from '@medledger/crypto';
import { createDatabase, TEST_DATABASE_OPTIONS, type LevelDatabase } from '@medledger/db';
import { peerIdFromNodePublicKey, type RequestHandler } from '@medledger/network';
import { createStateMachine, type MedLedgerStateMachine } from '@medledger/state';
import {
  decodeCanonical,
  DEFAULT_CHAIN_PARAMS,
  encodeCanonical,
  OrgKind,
  toHex,
  TxType,
  decodeTx,
  ZERO_HASH,
  type Block,
  type Genesis,
  type TxPayloads,
} from '@medledger/types';
import { createApiServer, type ApiContext } from '../src/api/index.js';
import {
  DEFAULT_DOCS_OPTIONS,
  DocErrorCode,
  DocumentService,
  DocumentStore,
  registerDocumentRoutes,
} from '../src/docs/index.js';
import { createLogger } from '../src/logger.js';

/**
 * The document subsystem against a real state machine on LevelDB, real crypto and a loopback
 * stand-in for `/docs/1`: a holder (hospital-a), a reader (lab-b) and a third organisation
 * (insurer-c). Each access event is executed as a block, as the node does.
 */
const CHAIN_ID = 'docs-unit';
const PROTOCOL = `/medledger/${CHAIN_ID}/docs/1`;

interface Org {
  id: string;
  org: Signer;
  node: Signer;
  enc: X25519KeyPair;
  peerId: string;
}

function newOrg(id: string): Org {
  const node = new Signer(generateKeyPair().secretKey);
  return {
    id,
    org: new Signer(generateKeyPair().secretKey),
    node,
    enc: generateEncKeyPair(),
    peerId: peerIdFromNodePublicKey(node.publicKey),
  };
}

const hospital = newOrg('hospital-a');
const lab = newOrg('lab-b');
const insurer = newOrg('insurer-c');
const patientAccount = new Signer(generateKeyPair().secretKey);
const patientEnc = generateEncKeyPair();
const PATIENT = 'aa'.repeat(16);
interface Sealed {
  ciphertext: Uint8Array;
  contentHash: Uint8Array;
  authorKey: Uint8Array;
  patientKey: Uint8Array | null;
}

/** What a client does before anchoring: seal for the author org and (optionally) the patient. */
function sealRecord(input: {
  record: string;
  content: Uint8Array;
  authorEncKey: Uint8Array;
  patientEncKey?: Uint8Array;
}): Sealed {
  const recipients = [input.authorEncKey, ...(input.patientEncKey ? [input.patientEncKey] : [])];
  const { ciphertext, wrappedKeys } = encryptDocument(input.content, input.record, recipients);
  return {
    ciphertext,
    contentHash: sha256(ciphertext),
    authorKey: wrappedKeys[0]!,
    patientKey: wrappedKeys[1] ?? null,
  };
}

function createDocumentUpload(
  signer: Signer,
  input: { chainId: string; record: string; sealed: Sealed; time: number },
) {
  const { sealed } = input;
  const signed = signDocUpload(signer, {
    chainId: input.chainId,
    record: input.record,
    contentHash: sealed.contentHash,
    authorKey: sealed.authorKey,
    patientKey: sealed.patientKey,
    time: input.time,
  });
  return {
    ciphertext: toHex(sealed.ciphertext),
    authorKey: toHex(sealed.authorKey),
    patientKey: sealed.patientKey === null ? null : toHex(sealed.patientKey),
    time: input.time,
    from: toHex(signed.from),
    signature: toHex(signed.signature),
  };
}

const fhir = new TextEncoder().encode(
  JSON.stringify({ resourceType: 'Observation', status: 'final', subject: { display: 'Jane Roe' } }),
);

/** One ledger, executed block by block; `time` is the block clock. */
class Ledger {
  db!: LevelDatabase;
  state!: MedLedgerStateMachine;
  time = Date.now() - 60_000;
  lastBlock: Block | undefined;
  lastResults: { code: number }[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'medledger-docs-'));
  readonly #nonces = new Map<string, number>();
  readonly genesis: Genesis = {
    chainId: CHAIN_ID,
    genesisTime: this.time,
    params: { ...DEFAULT_CHAIN_PARAMS },
    orgs: [hospital, lab, insurer].map((o) => ({
      id: o.id,
      name: o.id,
      kind: OrgKind.Hospital,
      orgKey: toHex(o.org.publicKey),
      encKey: o === insurer ? '' : toHex(o.enc.publicKey),
      nodeKeys: [toHex(o.node.publicKey)],
    })),
    validators: [{ pubKey: toHex(hospital.node.publicKey), org: hospital.id, name: 'v0' }],
  };

  async open(): Promise<void> {
    this.db = createDatabase({ ...TEST_DATABASE_OPTIONS, path: this.dir });
    await this.db.open();
    this.state = createStateMachine({ genesis: this.genesis }, { db: this.db });
    const batch = this.db.createBatch();
    this.state.initGenesis(batch);
    await this.db.write(batch);
  }

  async close(): Promise<void> {
    await this.db.close();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Signs with the next nonce and commits the tx in its own block; returns its code and hash. */
  async run<T extends TxType>(
    signer: Signer,
    type: T,
    payload: TxPayloads[T],
  ): Promise<{ code: number; hash: string }> {
    const key = toHex(signer.publicKey);
    const nonce = (this.#nonces.get(key) ?? 0) + 1;
    this.#nonces.set(key, nonce);
    const signed = signTx(signer, { chainId: CHAIN_ID, type, nonce, payload } as never);
    this.time += 500;
    const height = this.state.height + 1;
    const header = {
      chainId: CHAIN_ID,
      height,
      round: 0,
      time: this.time,
      prevHash: ZERO_HASH,
      txRoot: ZERO_HASH,
      appHash: ZERO_HASH,
      validatorsHash: ZERO_HASH,
      proposer: new Uint8Array(20),
      lastCommitHash: ZERO_HASH,
    };
    const batch = this.db.createBatch();
    const exec = this.state.executeBlock(header, [{ tx: signed.tx, hash: sha256(signed.bytes) }], batch);
    await this.db.write(batch);
    this.state.commit(height, exec.appHash);
    this.lastBlock = { header, txs: [signed.bytes], lastCommit: null };
    this.lastResults = exec.results;
    return { code: exec.results[0]!.code, hash: signed.hash };
  }
}

/** `/docs/1` over a map from peer id to handler, with the caller's peer id as `from`. */
class LoopbackNet {
  readonly handlers = new Map<string, RequestHandler>();
  /** A holder that lies: rewrites its answers before they leave. */
  tamper: ((response: Uint8Array) => Uint8Array) | undefined;

  endpoint(peerId: string) {
    return {
      peerId,
      handle: async (_protocol: string, handler: RequestHandler) => {
        this.handlers.set(peerId, handler);
      },
      request: async (to: string, protocol: string, data: Uint8Array) => {
        assert.equal(protocol, PROTOCOL);
        const handler = this.handlers.get(to);
        if (!handler) throw new Error('peer unreachable');
        const response = await handler(data, peerId, new AbortController().signal);
        return this.tamper ? this.tamper(response) : response;
      },
    };
  }
}

describe('documents: upload, /docs/1 with consent and break-glass, tampering, erasure', () => {
  const ledger = new Ledger();
  const net = new LoopbackNet();
  const logger = createLogger({ level: 'error', name: 'docs-test', stdout: false });
  let holderDocs: DocumentService;
  let labDocs: DocumentService;
  let insurerDocs: DocumentService;
  let RECORD = '';
  let sealed: Sealed;
  /** Set: the holder's next access event is committed twice, as if the same request came in twice at once. */
  let racedBySameRequest = false;

  const service = (o: Org) =>
    new DocumentService(
      { protocol: PROTOCOL, commitTimeoutMs: 2000 },
      {
        db: ledger.db,
        queries: ledger.state.query,
        network: net.endpoint(o.peerId),
        chainId: CHAIN_ID,
        nodePublicKey: o.node.publicKey,
        encKey: new EncKey(o.enc.secretKey),
        latestTime: () => ledger.time,
        now: () => ledger.time,
        sendNodeTx: async (type, payload) => {
          if (racedBySameRequest) {
            racedBySameRequest = false;
            assert.equal((await ledger.run(o.node, type, payload)).code, 0);
          }
          const { code, hash } = await ledger.run(o.node, type, payload);
          return { hash, code, log: '', height: ledger.state.height, index: 0 };
        },
        logger,
      },
    );

  const request = (reader: Signer, purpose = 'treatment', breakGlass: string | null = null, record = RECORD) =>
    signDocRequest(reader, { chainId: CHAIN_ID, record, purpose, breakGlass, time: ledger.time }).bytes;

  const refusedWith = async (p: Promise<unknown>, code: string) =>
    assert.rejects(p, (err: { code?: string }) => {
      assert.equal(err.code, code);
      return true;
    });

  before(async () => {
    await ledger.open();
    holderDocs = service(hospital);
    labDocs = service(lab);
    insurerDocs = service(insurer);
    for (const s of [holderDocs, labDocs, insurerDocs]) await s.start();
    const reg = await ledger.run(patientAccount, TxType.PatientRegister, {
      patient: PATIENT,
      account: patientAccount.publicKey,
      encKey: patientEnc.publicKey,
    });
    assert.equal(reg.code, 0);
    RECORD = 'bb'.repeat(16);
    sealed = sealRecord({
      record: RECORD,
      content: fhir,
      authorEncKey: hospital.enc.publicKey,
      patientEncKey: patientEnc.publicKey,
    });
    const anchored = await ledger.run(hospital.org, TxType.RecordAnchor, {
      record: RECORD,
      patient: PATIENT,
      resourceType: 'Observation',
      contentHash: sealed.contentHash,
      size: sealed.ciphertext.length,
      previous: null,
    });
    assert.equal(anchored.code, 0);
  });

  after(() => ledger.close());

  test('upload: only the matching ciphertext, signed by the author org key, at the author node', async () => {
    const upload = (signer: Signer, s = sealed, time = ledger.time) =>
      createDocumentUpload(signer, { chainId: CHAIN_ID, record: RECORD, sealed: s, time });
    // Another document, correctly wrapped: its hash is not the anchored one.
    const other = sealRecord({
      record: RECORD,
      content: new Uint8Array([1, 2, 3]),
      authorEncKey: hospital.enc.publicKey,
    });
    await refusedWith(holderDocs.upload(RECORD, upload(hospital.org, other)), DocErrorCode.CONTENT_MISMATCH);
    await refusedWith(holderDocs.upload(RECORD, upload(lab.org)), DocErrorCode.NOT_ORG_KEY);
    const forged = { ...upload(lab.org), from: toHex(hospital.org.publicKey) };
    await refusedWith(holderDocs.upload(RECORD, forged), DocErrorCode.BAD_SIGNATURE);
    await refusedWith(
      holderDocs.upload(RECORD, upload(hospital.org, sealed, ledger.time - 3_600_000)),
      DocErrorCode.STALE_REQUEST,
    );
    await refusedWith(labDocs.upload(RECORD, upload(hospital.org)), DocErrorCode.NOT_HOLDER);
    // The author copy must be wrapped to the author org's enc key.
    const wrongWrap = { ...sealed, authorKey: sealed.patientKey! };
    await refusedWith(holderDocs.upload(RECORD, upload(hospital.org, wrongWrap)), DocErrorCode.BAD_WRAPPED_KEY);
    assert.equal(holderDocs.store.has(RECORD), false);

    assert.deepEqual(await holderDocs.upload(RECORD, upload(hospital.org)), {
      record: RECORD,
      size: sealed.ciphertext.length,
      stored: true,
    });
    assert.equal((await holderDocs.upload(RECORD, upload(hospital.org))).stored, false, 'a retry is idempotent');
    const status = await holderDocs.status(RECORD);
    assert.equal(status.held, true);
    assert.equal(status.erasure, null);
    // The store holds ciphertext and wrapped keys, never the plaintext.
    const stored = holderDocs.store.get(RECORD)!;
    assert.deepEqual(stored.ciphertext, sealed.ciphertext);
    assert.equal(Buffer.from(stored.ciphertext).indexOf(Buffer.from('Jane Roe')), -1);
    // The patient's copy opens with the patient's key.
    assert.deepEqual(decryptDocument(stored.ciphertext, stored.patientKey!, patientEnc.secretKey, RECORD), fhir);
  });

  test('over HTTP: a 6 MB document is stored; one over 8 MiB is 413 DOCUMENT_TOO_LARGE', async () => {
    // The node's API server with only what the document routes need.
    const ctx = { metrics: { apiRequestSeconds: { observe: () => undefined } } } as unknown as ApiContext;
    const app = createApiServer({ bodyLimitBytes: 1024 * 1024, commitWaitMs: 1000 }, ctx, logger);
    registerDocumentRoutes(app, holderDocs);
    const put = (record: string, s: Sealed) =>
      app.inject({
        method: 'PUT',
        url: `/records/${record}/document`,
        payload: createDocumentUpload(hospital.org, { chainId: CHAIN_ID, record, sealed: s, time: ledger.time }),
      });
    try {
      const record = '5a'.repeat(16);
      const large = sealRecord({ record, content: randomBytes(6_000_000), authorEncKey: hospital.enc.publicKey });
      const anchored = await ledger.run(hospital.org, TxType.RecordAnchor, {
        record,
        patient: PATIENT,
        resourceType: 'Observation',
        contentHash: large.contentHash,
        size: large.ciphertext.length,
        previous: null,
      });
      assert.equal(anchored.code, 0);
      const stored = await put(record, large);
      assert.equal(stored.statusCode, 201, stored.body);
      assert.deepEqual(stored.json(), { record, size: large.ciphertext.length, stored: true });
      const upload = createDocumentUpload(hospital.org, {
        chainId: CHAIN_ID,
        record,
        sealed: large,
        time: ledger.time,
      });
      const halfByte = await app.inject({
        method: 'PUT',
        url: `/records/${record}/document`,
        payload: { ...upload, ciphertext: upload.ciphertext.slice(1) },
      });
      assert.equal(halfByte.statusCode, 400);
      assert.equal(halfByte.json().error.code, 'INVALID_REQUEST');

      // One byte over (the body still fits the route's limit), and far over (it does not).
      for (const size of [DEFAULT_DOCS_OPTIONS.maxDocumentBytes + 1, 9_000_000]) {
        const content = new Uint8Array(size - SEAL_OVERHEAD_BYTES);
        const over = sealRecord({ record, content, authorEncKey: hospital.enc.publicKey });
        assert.equal(over.ciphertext.length, size);
        const refused = await put(record, over);
        assert.equal(refused.statusCode, 413, `${size} bytes`);
        assert.equal(refused.json().error.code, DocErrorCode.TOO_LARGE, `${size} bytes`);
      }
    } finally {
      await app.close();
    }
  });

  test('without a consent the holder refuses: NO_CONSENT, and nothing lands on chain', async () => {
    await refusedWith(labDocs.fetch(RECORD, request(lab.org)), DocErrorCode.NO_CONSENT);
    assert.equal((await ledger.state.query.accessByPatient(PATIENT)).items.length, 0);
  });

  test('forged or misdirected requests are refused', async () => {
    const { decodeDocRequest, encodeDocRequest } = await import('@medledger/types');
    // Claims the lab's org key, signed by another key.
    const byInsurer = decodeDocRequest(request(insurer.org));
    const forged = encodeDocRequest({ ...byInsurer, from: lab.org.publicKey });
    await refusedWith(labDocs.fetch(RECORD, forged), DocErrorCode.BAD_SIGNATURE);
    await refusedWith(holderDocs.serve(forged, lab.peerId).then(openResponse), DocErrorCode.BAD_SIGNATURE);
    // Signed with the lab's node key: not an org key.
    await refusedWith(labDocs.fetch(RECORD, request(lab.node)), DocErrorCode.NOT_ORG_KEY);
    // The lab's node relays only the lab's own requests, and the holder serves an org only through its own node.
    await refusedWith(labDocs.fetch(RECORD, request(insurer.org)), DocErrorCode.WRONG_ORG);
    await refusedWith(holderDocs.serve(request(insurer.org), lab.peerId).then(openResponse), DocErrorCode.WRONG_ORG);
    // Another chain; another record than the URL names; garbage.
    const otherChain = signDocRequest(lab.org, {
      chainId: 'other-chain',
      record: RECORD,
      purpose: 'treatment',
      breakGlass: null,
      time: ledger.time,
    }).bytes;
    await refusedWith(labDocs.fetch(RECORD, otherChain), DocErrorCode.WRONG_CHAIN);
    await refusedWith(labDocs.fetch('cc'.repeat(16), request(lab.org)), DocErrorCode.INVALID_REQUEST);
    await refusedWith(
      holderDocs.serve(new Uint8Array([0xff, 1]), lab.peerId).then(openResponse),
      DocErrorCode.INVALID_REQUEST,
    );
    // Each refusal says once what it refused.
    const garbled = async (bytes: Uint8Array) =>
      labDocs.fetch(RECORD, bytes).then(
        () => assert.fail('refused'),
        (err: { code: string; message: string }) => [err.code, err.message],
      );
    assert.deepEqual(await garbled(encodeCanonical([1, 2, 3])), [
      DocErrorCode.INVALID_REQUEST,
      'document request: expected a list of 8 fields',
    ]);
    assert.deepEqual(await garbled(new Uint8Array([0xff])), [
      DocErrorCode.INVALID_REQUEST,
      'document request: not valid CBOR: unsupported simple value',
    ]);
  });

  let consent = '';
  test('after the patient grants, the lab reads the byte-identical document; the read is on chain', async () => {
    consent = 'cc'.repeat(16);
    const granted = await ledger.run(patientAccount, TxType.ConsentGrant, {
      consent,
      patient: PATIENT,
      grantee: lab.id,
      scope: { types: ['Observation'], records: [] },
      purpose: 'treatment',
      expires: 0,
    });
    assert.equal(granted.code, 0);
    const fetched = await labDocs.fetch(RECORD, request(lab.org));
    assert.equal(fetched.consent, consent);
    assert.equal(fetched.breakGlass, null);
    assert.equal(fetched.holder, hospital.peerId);
    assert.deepEqual(decryptDocument(fetched.ciphertext, fetched.wrappedKey, lab.enc.secretKey, RECORD), fhir);
    // The wrapped key is for the lab only.
    assert.throws(() => decryptDocument(fetched.ciphertext, fetched.wrappedKey, hospital.enc.secretKey, RECORD));
    const events = (await ledger.state.query.accessByPatient(PATIENT)).items;
    assert.equal(events.length, 1);
    assert.equal(events[0]!.accessor, lab.id);
    assert.equal(events[0]!.consent, consent);
    assert.equal(events[0]!.tx, fetched.accessTx);
  });

  test('a request is served once: a replay is 409 REQUEST_ALREADY_SERVED; another purpose is PURPOSE_MISMATCH', async () => {
    const once = request(lab.org);
    await labDocs.fetch(RECORD, once);
    const events = (await ledger.state.query.accessByPatient(PATIENT)).items.length;
    await refusedWith(labDocs.fetch(RECORD, once), DocErrorCode.REQUEST_ALREADY_SERVED);
    // Over HTTP: a 4xx, since sending it again can never succeed (a 503 would invite retries).
    const ctx = { metrics: { apiRequestSeconds: { observe: () => undefined } } } as unknown as ApiContext;
    const app = createApiServer({ bodyLimitBytes: 1024 * 1024, commitWaitMs: 1000 }, ctx, logger);
    registerDocumentRoutes(app, labDocs);
    try {
      const replay = await app.inject({
        method: 'POST',
        url: `/records/${RECORD}/document/fetch`,
        payload: { request: toHex(once) },
      });
      assert.equal(replay.statusCode, 409);
      assert.equal(replay.json().error.code, DocErrorCode.REQUEST_ALREADY_SERVED);
    } finally {
      await app.close();
    }
    // The same request twice at once: both pass the holder's checks, one event commits, the other is refused.
    racedBySameRequest = true;
    await refusedWith(labDocs.fetch(RECORD, request(lab.org)), DocErrorCode.REQUEST_ALREADY_SERVED);
    assert.equal((await ledger.state.query.accessByPatient(PATIENT)).items.length, events + 1);
    await refusedWith(labDocs.fetch(RECORD, request(lab.org, 'research')), DocErrorCode.PURPOSE_MISMATCH);
  });

  test('an organisation without an encryption key is not served', async () => {
    const g = await ledger.run(patientAccount, TxType.ConsentGrant, {
      consent: 'dd'.repeat(16),
      patient: PATIENT,
      grantee: insurer.id,
      scope: { types: [], records: [RECORD] },
      purpose: 'billing',
      expires: 0,
    });
    assert.equal(g.code, 0);
    await refusedWith(insurerDocs.fetch(RECORD, request(insurer.org, 'billing')), DocErrorCode.NO_ENC_KEY);
  });

  test('a holder serving other bytes than the anchored ones is caught by the reader', async () => {
    net.tamper = (response) => {
      const v = decodeCanonical(response) as { ok: boolean; ciphertext?: Uint8Array };
      if (!v.ok) return response;
      const ciphertext = v.ciphertext!.slice();
      ciphertext[ciphertext.length - 1]! ^= 1;
      return encodeCanonical({ ...v, ciphertext });
    };
    try {
      await refusedWith(labDocs.fetch(RECORD, request(lab.org)), DocErrorCode.HASH_MISMATCH);
    } finally {
      net.tamper = undefined;
    }
    const good = await labDocs.fetch(RECORD, request(lab.org));
    assert.deepEqual(good.ciphertext, sealed.ciphertext);
  });

  test('revocation stops the next read at once: CONSENT_REVOKED', async () => {
    assert.equal((await ledger.run(patientAccount, TxType.ConsentRevoke, { consent })).code, 0);
    await refusedWith(labDocs.fetch(RECORD, request(lab.org)), DocErrorCode.CONSENT_REVOKED);
  });

  test('an expired consent: CONSENT_EXPIRED', async () => {
    const expiring = 'ee'.repeat(16);
    const g = await ledger.run(patientAccount, TxType.ConsentGrant, {
      consent: expiring,
      patient: PATIENT,
      grantee: lab.id,
      scope: { types: ['Observation'], records: [] },
      purpose: 'treatment',
      expires: ledger.time + 1000,
    });
    assert.equal(g.code, 0);
    await ledger.run(patientAccount, TxType.ConsentRevoke, { consent: 'ff'.repeat(16) }); // a block goes by
    await ledger.run(patientAccount, TxType.ConsentRevoke, { consent: 'ff'.repeat(16) });
    await refusedWith(labDocs.fetch(RECORD, request(lab.org)), DocErrorCode.CONSENT_EXPIRED);
  });

  test('break-glass: served without consent, flagged on chain with its reason code', async () => {
    // A free-text reason is refused by the reader's node and by the holder, and nothing lands on chain.
    const freeText = request(lab.org, 'emergency', 'John Doe, overdose');
    await refusedWith(labDocs.fetch(RECORD, freeText), DocErrorCode.INVALID_REQUEST);
    await refusedWith(holderDocs.serve(freeText, lab.peerId).then(openResponse), DocErrorCode.INVALID_REQUEST);
    assert.equal((await ledger.state.query.accessByPatient(PATIENT)).items.filter((e) => e.breakGlass).length, 0);
    const reason = 'unconscious';
    const fetched = await labDocs.fetch(RECORD, request(lab.org, 'emergency', reason));
    assert.equal(fetched.consent, null);
    assert.equal(fetched.breakGlass, reason);
    assert.deepEqual(decryptDocument(fetched.ciphertext, fetched.wrappedKey, lab.enc.secretKey, RECORD), fhir);
    const flagged = (await ledger.state.query.accessByPatient(PATIENT)).items.filter((e) => e.breakGlass !== null);
    assert.equal(flagged.length, 1);
    assert.equal(flagged[0]!.breakGlass, reason);
    assert.equal(flagged[0]!.purpose, 'emergency');
  });

  test('erasure: on commit the holder deletes ciphertext and wrapped keys; every read is ERASED', async () => {
    assert.equal((await ledger.run(hospital.org, TxType.RecordErase, { record: RECORD })).code, 2, 'not the hospital');
    assert.equal((await ledger.run(patientAccount, TxType.RecordErase, { record: RECORD })).code, 0);
    await holderDocs.onCommit(ledger.lastBlock!.txs.map(decodeTx), ledger.lastResults);
    assert.equal(holderDocs.store.get(RECORD), undefined);
    const status = await holderDocs.status(RECORD);
    assert.equal(status.held, false);
    assert.equal(status.erasure?.record, RECORD);
    await refusedWith(labDocs.fetch(RECORD, request(lab.org, 'emergency', 'life-threatening')), DocErrorCode.ERASED);
    await refusedWith(
      holderDocs.serve(request(lab.org, 'emergency', 'urgent-treatment'), lab.peerId).then(openResponse),
      DocErrorCode.ERASED,
    );
    const upload = createDocumentUpload(hospital.org, { chainId: CHAIN_ID, record: RECORD, sealed, time: ledger.time });
    await refusedWith(holderDocs.upload(RECORD, upload), DocErrorCode.ERASED);
    // The chain keeps the record and its hash.
    assert.equal((await ledger.state.query.record(RECORD))?.contentHash, toHex(sealed.contentHash));
  });

  test('a document left behind by a crash before the deletion is swept at start', async () => {
    await holderDocs.store.put({
      record: RECORD,
      ciphertext: sealed.ciphertext,
      authorKey: sealed.authorKey,
      patientKey: null,
      storedAt: 1,
    });
    const another = encryptDocument(fhir, '12'.repeat(16), [hospital.enc.publicKey]);
    await holderDocs.store.put({
      record: '12'.repeat(16),
      ciphertext: another.ciphertext,
      authorKey: another.wrappedKeys[0]!,
      patientKey: null,
      storedAt: 1,
    });
    await service(hospital).start();
    assert.equal(holderDocs.store.has(RECORD), false);
    assert.equal(holderDocs.store.has('12'.repeat(16)), true, 'documents of records not erased stay');
  });
});

/** The holder's raw answer as the reader decodes it: a refusal throws its code. */
async function openResponse(bytes: Uint8Array): Promise<unknown> {
  const { decodeDocResponse } = await import('../src/docs/protocol.js');
  return decodeDocResponse(bytes);
}

test('an erasure cut short before its compaction is compacted at the next start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'medledger-docstore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const open = async () => {
    const db = createDatabase({ ...TEST_DATABASE_OPTIONS, path: dir });
    await db.open();
    return db;
  };
  const ciphertext = randomBytes(4096);
  const probe = ciphertext.subarray(0, 64);
  const holding = () => readdirSync(dir).filter((name) => readFileSync(join(dir, name)).indexOf(probe) !== -1);
  const record = toHex(randomBytes(16));
  const db = await open();
  await new DocumentStore(db).put({ record, ciphertext, authorKey: randomBytes(80), patientKey: null, storedAt: 1 });
  // The node dies after the synced tombstones, before the compaction that follows them.
  const dying = new DocumentStore(db);
  let compactions = 0;
  dying.compact = async () => {
    if (++compactions === 2) throw new Error('killed');
    return DocumentStore.prototype.compact.call(dying);
  };
  await assert.rejects(dying.delete([record]), /killed/);
  assert.equal(dying.has(record), false);
  assert.deepEqual(await dying.records(), [], 'nothing lists the deleted document any more');
  await db.close();
  assert.notDeepEqual(holding(), [], 'its bytes are still in the files');

  const restarted = await open();
  await new DocumentStore(restarted).finishErasure();
  assert.deepEqual(holding(), [], 'files still holding the erased ciphertext');
  await restarted.close();
});
