import {
  decryptDocument,
  encryptDocument,
  SEAL_OVERHEAD_BYTES,
  sha256,
  signDocRequest,
  signDocUpload,
  type EncKey,
} from '@medledger/crypto';
import { fromHex, MAX_DOCUMENT_BYTES, MedLedgerError, toHex, TxType, type DocumentUploadBody } from '@medledger/types';
import type { Account } from './account.js';
import type { MedLedgerClient } from './client.js';
import { ClientErrorCode, invalidArgument } from './errors.js';
import type { TxSigner } from './interface.js';
import type { CallOptions } from './options.js';
import { checkBreakGlass, checkPurpose, createRecordAnchorPayload } from './payloads.js';

/**
 * Documents (ADR 0006), the client half: encrypt on the client, anchor the ciphertext's hash,
 * upload the ciphertext to the author's node; and read back through one's own node, which
 * fetches from the holder over `/docs/1`. The plaintext and the data key never leave this
 * process; what is sent is ciphertext and wrapped keys.
 */

export interface DocumentUploadResponse {
  record: string;
  size: number;
  stored: boolean;
}

/** `POST /records/:id/document/fetch` answer: still encrypted, for the reading organisation only. */
export interface FetchedDocumentJson {
  record: string;
  contentHash: string;
  ciphertext: string;
  wrappedKey: string;
  consent: string | null;
  breakGlass: string | null;
  accessTx: string;
  holder: string;
}

export interface DocumentStatusJson {
  record: string;
  held: boolean;
  size: number | null;
  erasure: { record: string; erasedAt: number; height: number; tx: string } | null;
}

export interface SealedRecord {
  ciphertext: Uint8Array;
  /** sha256 of the ciphertext: the record's on-chain contentHash. */
  contentHash: Uint8Array;
  authorKey: Uint8Array;
  patientKey: Uint8Array | null;
}

/**
 * Encrypts `content` for `record` under a fresh data key, wrapped for the author organisation's
 * enc key and, when given, the patient's.
 */
export function sealRecord(input: {
  record: string;
  content: Uint8Array;
  authorEncKey: Uint8Array;
  patientEncKey?: Uint8Array | null;
}): SealedRecord {
  if (!(input.content instanceof Uint8Array)) throw invalidArgument('content: expected bytes', { field: 'content' });
  const recipients = [input.authorEncKey, ...(input.patientEncKey ? [input.patientEncKey] : [])];
  const { ciphertext, wrappedKeys } = encryptDocument(input.content, input.record, recipients);
  return {
    ciphertext,
    contentHash: sha256(ciphertext),
    authorKey: wrappedKeys[0]!,
    patientKey: input.patientEncKey ? wrappedKeys[1]! : null,
  };
}

/** The signed upload body: the author's org key signs the ciphertext's hash and the wrapped keys. */
export function createDocumentUpload(
  signer: TxSigner,
  input: { chainId: string; record: string; sealed: SealedRecord; time?: number },
): DocumentUploadBody {
  const signed = signDocUpload(signer, {
    chainId: input.chainId,
    record: input.record,
    contentHash: input.sealed.contentHash,
    authorKey: input.sealed.authorKey,
    patientKey: input.sealed.patientKey,
    time: input.time ?? Date.now(),
  });
  return {
    ciphertext: toHex(input.sealed.ciphertext),
    authorKey: toHex(input.sealed.authorKey),
    patientKey: input.sealed.patientKey === null ? null : toHex(input.sealed.patientKey),
    time: signed.time,
    from: toHex(signed.from),
    signature: toHex(signed.signature),
  };
}

/** A document request signed by the reading organisation's org key; `breakGlass` is a reason code. */
export function createDocumentRequest(
  signer: TxSigner,
  input: { chainId: string; record: string; purpose: string; breakGlass?: string | null; time?: number },
): Uint8Array {
  return signDocRequest(signer, {
    chainId: input.chainId,
    record: input.record,
    purpose: checkPurpose(input.purpose),
    breakGlass: checkBreakGlass(input.breakGlass),
    time: input.time ?? Date.now(),
  }).bytes;
}

/**
 * Checks a fetched ciphertext against the anchored hash (given by the caller from the chain),
 * then opens it with the organisation's enc key. A holder serving other bytes is caught here
 * even if the reader's own node did not catch it.
 */
export function openFetchedDocument(fetched: FetchedDocumentJson, contentHash: string, encKey: EncKey): Uint8Array {
  const ciphertext = fromHex(fetched.ciphertext, 'ciphertext');
  if (toHex(sha256(ciphertext)) !== contentHash) {
    throw new MedLedgerError(ClientErrorCode.HASH_MISMATCH, 'the ciphertext does not match the anchored contentHash');
  }
  return decryptDocument(ciphertext, fromHex(fetched.wrappedKey, 'wrappedKey'), encKey, fetched.record);
}

/**
 * An organisation's document workflow over its own node: `write` encrypts, anchors and uploads;
 * `read` fetches (through the node, from the holder) and decrypts.
 */
export class DocumentClient {
  constructor(
    private readonly opts: {
      client: MedLedgerClient;
      /** Signs with the organisation's org key. */
      account: Account;
      /** The organisation's x25519 key: needed to read. */
      encKey?: EncKey;
    },
  ) {}

  /**
   * Encrypts, anchors (waiting for the commit) and uploads a document. One over the node's size
   * limit is refused before anything is sent (DOCUMENT_TOO_LARGE). An upload that fails after the
   * anchor throws DOCUMENT_NOT_STORED naming the record (`meta.record`): the ciphertext is gone
   * with this call and a new encryption would not match the anchored hash, so add the document
   * again as a new version (`previous`). A caller that seals and anchors itself keeps the sealed
   * record and can retry with `upload`.
   */
  async write(input: {
    patient: string;
    resourceType: string;
    content: Uint8Array;
    previous?: string | null;
    record?: string;
  }): Promise<{ record: string; tx: string; height: number | undefined; contentHash: string; size: number }> {
    const { client, account } = this.opts;
    // Checked before anything is encrypted or sent.
    const payload = createRecordAnchorPayload({
      record: input.record,
      patient: input.patient,
      resourceType: input.resourceType,
      contentHash: new Uint8Array(32),
      size: 0,
      previous: input.previous ?? null,
    });
    if (input.content instanceof Uint8Array && input.content.length + SEAL_OVERHEAD_BYTES > MAX_DOCUMENT_BYTES) {
      throw new MedLedgerError(
        ClientErrorCode.DOCUMENT_TOO_LARGE,
        `the document is ${input.content.length} bytes; encrypted it must fit in ${MAX_DOCUMENT_BYTES} bytes`,
        { size: input.content.length },
      );
    }
    const authorEncKey = await this.#ownEncKey();
    const patient = (await client.patient(input.patient)).patient;
    const sealed = sealRecord({
      record: payload.record,
      content: input.content,
      authorEncKey,
      patientEncKey: patient.encKey ? fromHex(patient.encKey, 'encKey') : null,
    });
    payload.contentHash = sealed.contentHash;
    payload.size = sealed.ciphertext.length;
    const sent = await account.send(TxType.RecordAnchor, payload, { wait: 'commit' });
    try {
      await this.upload(payload.record, sealed);
    } catch (err) {
      const cause = err instanceof MedLedgerError ? `${err.code}: ${err.message}` : String(err);
      throw new MedLedgerError(
        ClientErrorCode.DOCUMENT_NOT_STORED,
        `record ${payload.record} is anchored (tx ${sent.hash}) but its document was not stored (${cause}); ` +
          `add the document again as a new version of it (previous ${payload.record})`,
        {
          record: payload.record,
          tx: sent.hash,
          height: sent.height,
          cause: err instanceof MedLedgerError ? err.code : undefined,
        },
      );
    }
    return {
      record: payload.record,
      tx: sent.hash,
      height: sent.height,
      contentHash: toHex(sealed.contentHash),
      size: sealed.ciphertext.length,
    };
  }

  /**
   * Uploads the sealed document of an anchored record to this node, signed now (a node takes an
   * upload signed within the last 5 minutes). Safe to repeat with the same `sealed`: a node that
   * holds it already answers `stored: false`.
   */
  upload(record: string, sealed: SealedRecord, opts?: CallOptions): Promise<DocumentUploadResponse> {
    const { client, account } = this.opts;
    return client.uploadDocument(
      record,
      createDocumentUpload(account.signer, { chainId: account.chainId, record, sealed }),
      opts,
    );
  }

  async read(input: { record: string; purpose: string; breakGlass?: string | null }): Promise<{
    content: Uint8Array;
    accessTx: string;
    consent: string | null;
    breakGlass: string | null;
  }> {
    const { client, account, encKey } = this.opts;
    if (!encKey) throw new MedLedgerError(ClientErrorCode.NO_ENC_KEY, "reading needs the organisation's enc key");
    const request = createDocumentRequest(account.signer, { chainId: account.chainId, ...input });
    const fetched = await client.fetchDocument(input.record, request);
    const { record } = await client.record(input.record);
    const content = openFetchedDocument(fetched, record.contentHash, encKey);
    return { content, accessTx: fetched.accessTx, consent: fetched.consent, breakGlass: fetched.breakGlass };
  }

  /** The enc key the registry lists for the signer's organisation. */
  async #ownEncKey(): Promise<Uint8Array> {
    const orgKey = toHex(this.opts.account.signer.publicKey);
    const org = (await this.opts.client.orgs()).orgs.find((o) => o.orgKey === orgKey);
    if (!org)
      throw new MedLedgerError(
        ClientErrorCode.NOT_ORG_KEY,
        'the signing key is not the org key of a member organisation',
      );
    if (!org.encKey) {
      throw new MedLedgerError(ClientErrorCode.NO_ENC_KEY, `organisation ${org.id} has published no encryption key`);
    }
    return fromHex(org.encKey, 'encKey');
  }
}
