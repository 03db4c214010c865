import { EncKey, rewrapDataKey, decryptDocument, sha256, verifyDocRequest, verifyDocUpload } from '@medledger/crypto';
import { peerIdFromNodePublicKey, publicKeyFromPeerId } from '@medledger/network';
import type { RecordView } from '@medledger/state';
import {
  bytesEqual,
  decodeDocRequest,
  docRequestFresh,
  fromHex,
  isMedLedgerError,
  MAX_DOC_REQUEST_BYTES,
  MedLedgerError,
  toHex,
  TxType,
  TypesErrorCode,
  type DocRequest,
  type DocumentUploadBody,
  type Tx,
} from '@medledger/types';
import { decideAccess } from './access.js';
import { DocErrorCode, docError } from './errors.js';
import type { DocsModules, DocumentStatus, FetchedDocument } from './interface.js';
import { DEFAULT_DOCS_OPTIONS, type DocsOptions } from './options.js';
import { decodeDocResponse, encodeRefusal, encodeServed, TRY_NEXT_HOLDER, type DocServed } from './protocol.js';
import { DocumentStore } from './store.js';
import { NodeErrorCode } from '../errors.js';

/**
 * The document subsystem of a node (ADR 0006):
 *
 * - as the author's node it stores uploaded ciphertexts (after checking them against the
 *   anchored record) and serves them on `/docs/1`: it checks the reader's signed request and
 *   consent as of the latest block, commits an `access.serve` event, and only then returns the
 *   ciphertext with the data key re-wrapped for the reader's organisation;
 * - as the reader's node it relays its own organisation's signed request to the holder and
 *   checks the answer against the chain (the ciphertext must hash to the record's contentHash);
 * - on every node it deletes a document once its erasure is committed.
 *
 * Plaintext and data keys exist only in memory, inside one call; nothing here logs them.
 */
export class DocumentService {
  readonly store: DocumentStore;
  readonly #opts: DocsOptions;
  readonly #m: DocsModules;
  readonly #protocol: string;

  constructor(opts: Partial<DocsOptions> & { protocol: string }, modules: DocsModules) {
    this.#opts = { ...DEFAULT_DOCS_OPTIONS, ...opts };
    this.#protocol = opts.protocol;
    this.#m = modules;
    this.store = new DocumentStore(modules.db);
  }

  get options(): DocsOptions {
    return this.#opts;
  }

  async start(): Promise<void> {
    await this.#m.network.handle(this.#protocol, (req, from) => this.serve(req, from), {
      maxRequestBytes: MAX_DOC_REQUEST_BYTES + 64,
      maxResponseBytes: this.#opts.maxDocumentBytes + 8 * 1024,
      requestsPerSecond: this.#opts.requestsPerSecond,
      // Each answer may hold a whole document; a node's own fetches from one holder queue beyond 8.
      maxStreamsPerPeer: 16,
    });
    const org = await this.ownOrg();
    const listed = org === undefined ? undefined : (await this.#m.queries.org(org))?.encKey;
    if (this.#m.encKey && listed !== undefined && listed !== toHex(this.#m.encKey.publicKey)) {
      this.#m.logger.warn('keys/enc.key is not the encryption key the registry lists for this organisation');
    }
    // A crash between an erasure's commit and its deletion leaves a document behind: sweep. One
    // between the deletion and its compaction leaves the bytes in LevelDB's files: compact.
    await this.store.finishErasure();
    const erased = [];
    for (const record of await this.store.records()) if (await this.#m.queries.erasure(record)) erased.push(record);
    if (erased.length > 0) await this.#shred(erased);
  }

  /** The organisation this node belongs to, from the registry (so governance changes apply). */
  async ownOrg(): Promise<string | undefined> {
    return this.#m.queries.orgOfKey(toHex(this.#m.nodePublicKey));
  }

  async status(record: string): Promise<DocumentStatus> {
    const found = await this.#m.queries.record(record);
    if (!found) throw docError(DocErrorCode.NOT_FOUND, 'record not found');
    const doc = this.store.get(record);
    return {
      record,
      held: doc !== undefined,
      size: doc ? doc.ciphertext.length : null,
      erasure: (await this.#m.queries.erasure(record)) ?? null,
    };
  }

  // ---- upload (author's node) -------------------------------------------------------------

  async upload(recordId: string, body: DocumentUploadBody): Promise<{ record: string; size: number; stored: boolean }> {
    const ciphertext = fromHex(body.ciphertext, 'ciphertext');
    if (ciphertext.length > this.#opts.maxDocumentBytes) {
      throw docError(DocErrorCode.TOO_LARGE, `document is over ${this.#opts.maxDocumentBytes} bytes`);
    }
    const record = await this.#liveRecord(recordId);
    const org = await this.ownOrg();
    if (record.author !== org) throw docError(DocErrorCode.NOT_HOLDER, "only the author organisation's node stores it");
    const author = await this.#m.queries.org(record.author);
    const fields = {
      chainId: this.#m.chainId,
      record: recordId,
      contentHash: sha256(ciphertext),
      authorKey: fromHex(body.authorKey, 'authorKey'),
      patientKey: body.patientKey === null ? null : fromHex(body.patientKey, 'patientKey'),
      time: body.time,
      from: fromHex(body.from, 'from'),
    };
    if (!author || author.orgKey !== body.from) {
      throw docError(DocErrorCode.NOT_ORG_KEY, "uploads are signed with the author organisation's org key");
    }
    if (!verifyDocUpload(fields, fromHex(body.signature, 'signature'))) {
      throw docError(DocErrorCode.BAD_SIGNATURE, 'upload signature does not verify');
    }
    if (!docRequestFresh(body.time, this.#m.now())) throw docError(DocErrorCode.STALE_REQUEST, 'upload is stale');
    if (toHex(fields.contentHash) !== record.contentHash || ciphertext.length !== record.size) {
      throw docError(DocErrorCode.CONTENT_MISMATCH, "ciphertext does not match the record's contentHash and size");
    }
    const encKey = this.#requireEncKey();
    // The author copy must open the document with this organisation's key, or no grantee could
    // ever be served: refuse it now rather than at the first read. Plaintext stays in this scope.
    try {
      decryptDocument(ciphertext, fields.authorKey, encKey, recordId).fill(0);
    } catch {
      throw docError(
        DocErrorCode.BAD_WRAPPED_KEY,
        "the author copy of the data key does not open with the org's enc key",
      );
    }
    const existing = this.store.get(recordId);
    if (existing && bytesEqual(existing.ciphertext, ciphertext)) {
      return { record: recordId, size: ciphertext.length, stored: false };
    }
    await this.store.put({
      record: recordId,
      ciphertext,
      authorKey: fields.authorKey,
      patientKey: fields.patientKey,
      storedAt: this.#m.now(),
    });
    // An erasure committed while this upload was in flight must still win.
    if (await this.#m.queries.erasure(recordId)) {
      await this.#shred([recordId]);
      throw docError(DocErrorCode.ERASED, 'the record was erased');
    }
    this.#m.logger.info({ record: recordId, size: ciphertext.length }, 'document stored');
    return { record: recordId, size: ciphertext.length, stored: true };
  }

  // ---- holder side of /docs/1 -------------------------------------------------------------

  /** The `/docs/1` handler: never throws, refusals are answered with their code. */
  async serve(requestBytes: Uint8Array, fromPeer: string): Promise<Uint8Array> {
    try {
      return encodeServed(await this.#serve(requestBytes, fromPeer));
    } catch (err) {
      if (isMedLedgerError(err)) {
        this.#m.logger.info({ peer: fromPeer, code: err.code }, 'document request refused');
        return encodeRefusal(err.code, err.message);
      }
      this.#m.logger.error({ err: (err as Error).message }, 'document request failed');
      return encodeRefusal(NodeErrorCode.Internal, 'internal error');
    }
  }

  async #serve(requestBytes: Uint8Array, fromPeer: string): Promise<DocServed> {
    const { request, reader } = await this.#checkRequest(requestBytes);
    // The asking node must belong to the organisation that signed: a request is not a bearer token.
    const peerOrg = await this.#m.queries.orgOfKey(toHex(publicKeyFromPeerId(fromPeer)));
    if (peerOrg !== reader.id)
      throw docError(DocErrorCode.WRONG_ORG, "the request came from another organisation's node");
    if (!docRequestFresh(request.time, this.#m.now())) throw docError(DocErrorCode.STALE_REQUEST, 'request is stale');
    const requestHash = toHex(sha256(requestBytes));
    if (await this.#m.queries.requestServed(requestHash)) throw alreadyServed();
    const record = await this.#liveRecord(request.record);
    if (record.author !== (await this.ownOrg())) throw docError(DocErrorCode.NOT_HOLDER, 'this node does not hold it');
    const doc = this.store.get(record.id);
    if (!doc) throw docError(DocErrorCode.DOCUMENT_NOT_FOUND, 'the document was not uploaded to this node');
    if (!reader.encKey) throw docError(DocErrorCode.NO_ENC_KEY, 'the reading organisation has no encryption key');
    const encKey = this.#requireEncKey();
    const { consent } = await decideAccess(
      this.#m.queries,
      record,
      reader.id,
      request.purpose,
      request.breakGlass,
      this.#m.latestTime(),
    );

    // The access event is committed before a byte leaves: no read without its trail.
    let accessTx: string;
    try {
      const r = await this.#m.sendNodeTx(
        TxType.AccessServe,
        { request: requestBytes, consent },
        this.#opts.commitTimeoutMs,
      );
      if (r.code !== 0) throw new MedLedgerError(NodeErrorCode.TxFailed, r.log);
      accessTx = r.hash;
    } catch (err) {
      // Consent may have changed between the check and the block: report why, if it did.
      await decideAccess(this.#m.queries, record, reader.id, request.purpose, request.breakGlass, this.#m.latestTime());
      if (await this.#m.queries.erasure(record.id)) throw docError(DocErrorCode.ERASED, 'the record was erased');
      // The same request sent twice at once: the other one's event committed first.
      if (await this.#m.queries.requestServed(requestHash)) throw alreadyServed();
      throw docError(DocErrorCode.ACCESS_NOT_RECORDED, `the access event was not committed: ${(err as Error).message}`);
    }
    const wrappedKey = rewrapDataKey(doc.authorKey, encKey, fromHex(reader.encKey, 'encKey'), record.id);
    this.#m.logger.info(
      { record: record.id, reader: reader.id, breakGlass: request.breakGlass !== null, tx: accessTx },
      'document served',
    );
    return { ciphertext: doc.ciphertext, wrappedKey, consent, breakGlass: request.breakGlass, accessTx };
  }

  /** Shape, chain, signature, and that `from` is the org key of a member organisation. */
  async #checkRequest(bytes: Uint8Array): Promise<{ request: DocRequest; reader: { id: string; encKey: string } }> {
    let request: DocRequest;
    try {
      request = decodeDocRequest(bytes);
    } catch (err) {
      // Shape and size errors name the request already; only CBOR errors need to say what failed.
      const cbor =
        isMedLedgerError(err) && (err.code === TypesErrorCode.ENCODING || err.code === TypesErrorCode.NON_CANONICAL);
      const message = (err as Error).message;
      throw docError(DocErrorCode.INVALID_REQUEST, cbor ? `document request: ${message}` : message);
    }
    if (request.chainId !== this.#m.chainId) throw docError(DocErrorCode.WRONG_CHAIN, 'request is for another chain');
    if (!verifyDocRequest(request)) throw docError(DocErrorCode.BAD_SIGNATURE, 'request signature does not verify');
    const fromHexKey = toHex(request.from);
    const orgId = await this.#m.queries.orgOfKey(fromHexKey);
    const org = orgId === undefined ? undefined : await this.#m.queries.org(orgId);
    if (!org || org.orgKey !== fromHexKey) {
      throw docError(DocErrorCode.NOT_ORG_KEY, 'request is not signed by the org key of a member organisation');
    }
    return { request, reader: { id: org.id, encKey: org.encKey } };
  }

  // ---- reader side --------------------------------------------------------------------------

  /**
   * Fetches a record's document for this node's organisation: relays the org-signed request
   * to the holders (the nodes of the author organisation, from the registry) and checks what
   * comes back against the chain before handing it on.
   */
  async fetch(recordId: string, requestBytes: Uint8Array): Promise<FetchedDocument> {
    const { request, reader } = await this.#checkRequest(requestBytes);
    if (request.record !== recordId) throw docError(DocErrorCode.INVALID_REQUEST, 'request is for another record');
    if (reader.id !== (await this.ownOrg())) {
      throw docError(DocErrorCode.WRONG_ORG, "a node relays only its own organisation's requests");
    }
    const record = await this.#liveRecord(recordId);
    const author = await this.#m.queries.org(record.author);
    const holders = (author?.nodeKeys ?? []).map((k) => peerIdFromNodePublicKey(fromHex(k, 'nodeKey')));
    if (holders.length === 0) throw docError(DocErrorCode.HOLDER_UNREACHABLE, 'the author organisation has no nodes');

    let lastError: MedLedgerError | undefined;
    for (const holder of holders) {
      let served: DocServed;
      try {
        served = await this.#ask(holder, requestBytes);
      } catch (err) {
        const e = isMedLedgerError(err) ? err : new MedLedgerError(NodeErrorCode.Internal, String(err));
        if (e.meta.remote === true && !TRY_NEXT_HOLDER.includes(e.code)) throw stripRemote(e);
        lastError = e;
        continue;
      }
      // A holder cannot pass off other bytes: they must be what the chain anchored.
      if (toHex(sha256(served.ciphertext)) !== record.contentHash) {
        this.#m.logger.warn({ record: record.id, holder }, 'holder served a ciphertext that does not match the chain');
        lastError = docError(DocErrorCode.HASH_MISMATCH, "the holder's ciphertext does not match the anchored hash");
        continue;
      }
      return {
        record: record.id,
        ciphertext: served.ciphertext,
        wrappedKey: served.wrappedKey,
        contentHash: record.contentHash,
        consent: served.consent,
        breakGlass: served.breakGlass,
        accessTx: served.accessTx,
        holder,
      };
    }
    if (lastError && (lastError.meta.remote === true || lastError.code === DocErrorCode.HASH_MISMATCH)) {
      throw stripRemote(lastError);
    }
    throw docError(DocErrorCode.HOLDER_UNREACHABLE, `no holder answered${lastError ? `: ${lastError.message}` : ''}`);
  }

  async #ask(holder: string, requestBytes: Uint8Array): Promise<DocServed> {
    // This node is a holder itself (its organisation authored the record): no network hop.
    if (holder === this.#m.network.peerId) return decodeDocResponse(await this.serve(requestBytes, holder));
    const res = await this.#m.network.request(holder, this.#protocol, requestBytes, {
      signal: AbortSignal.timeout(this.#opts.fetchTimeoutMs),
      maxResponseBytes: this.#opts.maxDocumentBytes + 8 * 1024,
    });
    return decodeDocResponse(res);
  }

  // ---- erasure ------------------------------------------------------------------------------

  /** Called after each committed block: documents whose erasure just committed are deleted. */
  async onCommit(txs: readonly Tx[], results: readonly { code: number }[]): Promise<void> {
    const erased: string[] = [];
    txs.forEach((tx, i) => {
      if (results[i]?.code === 0 && tx.type === TxType.RecordErase)
        erased.push((tx.payload as { record: string }).record);
    });
    if (erased.length > 0) await this.#shred(erased);
  }

  async #shred(records: string[]): Promise<void> {
    const deleted = await this.store.delete(records);
    if (deleted > 0) this.#m.logger.info({ records, deleted }, 'erased documents deleted');
  }

  async #liveRecord(id: string): Promise<RecordView> {
    const record = await this.#m.queries.record(id);
    if (!record) throw docError(DocErrorCode.NOT_FOUND, 'record not found');
    if (await this.#m.queries.erasure(id)) throw docError(DocErrorCode.ERASED, 'the record was erased');
    return record;
  }

  #requireEncKey(): EncKey {
    if (!this.#m.encKey) throw docError(DocErrorCode.NO_ENC_KEY, 'this node has no organisation encryption key');
    return this.#m.encKey;
  }
}

/** A 4xx, not ACCESS_NOT_RECORDED's 503: sending the same request again can never succeed. */
function alreadyServed(): MedLedgerError {
  return docError(DocErrorCode.REQUEST_ALREADY_SERVED, 'this request was already served: sign a new one');
}

/** The holder's refusal, re-raised here without the transport detail. */
function stripRemote(e: MedLedgerError): MedLedgerError {
  return new MedLedgerError(e.code, e.message);
}
