import {
  encodeCanonical,
  isRecord,
  MedLedgerError,
  toHex,
  type DocumentUploadBody,
  type StatusView,
} from '@medledger/types';
import { ClientErrorCode, invalidArgument } from './errors.js';
import type {
  AccountResponse,
  AuditQuery,
  AuditResponse,
  BlockResponse,
  ConsentsResponse,
  EvidenceResponse,
  PageQuery,
  HealthResponse,
  MembersResponse,
  OrgsResponse,
  PatientResponse,
  ProposalJson,
  ProposalsResponse,
  RecordResponse,
  RecordsQuery,
  RecordsResponse,
  SubmitBatchResult,
  SubmitResult,
  TxResponse,
  ValidatorsResponse,
} from './interface.js';
import type { DocumentStatusJson, DocumentUploadResponse, FetchedDocumentJson } from './documents.js';
import {
  DEFAULT_COMMIT_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_TIMEOUT_MS,
  type CallOptions,
  type ClientOptions,
  type SubmitOptions,
  type WaitOptions,
} from './options.js';

type Query = Record<string, string | number | undefined>;

/**
 * A thin client of one node's HTTP API (docs/API.md). Every call carries an AbortSignal with a
 * timeout; every error answer becomes a MedLedgerError with the node's own `code`, and the HTTP
 * status in `meta.status`.
 */
export class MedLedgerClient {
  readonly api: string;
  readonly timeoutMs: number;
  readonly commitTimeoutMs: number;

  constructor(opts: ClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.api);
    } catch {
      throw invalidArgument(`api: not a URL: ${JSON.stringify(opts.api)}`, { field: 'api' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw invalidArgument(`api: expected an http(s) URL, got ${url.protocol}`, { field: 'api' });
    }
    this.api = url.href.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.commitTimeoutMs = opts.commitTimeoutMs ?? DEFAULT_COMMIT_TIMEOUT_MS;
  }

  status(opts?: CallOptions): Promise<StatusView> {
    return this.#get('/status', {}, opts);
  }

  health(opts?: CallOptions): Promise<HealthResponse> {
    return this.#get('/health', {}, opts);
  }

  /** A block by height, or the last committed one. */
  block(height: number | 'latest', opts?: CallOptions): Promise<BlockResponse> {
    if (height !== 'latest' && (!Number.isSafeInteger(height) || height < 1)) {
      throw invalidArgument('height: expected a positive integer or "latest"', { field: 'height' });
    }
    return this.#get(`/blocks/${height}`, {}, opts);
  }

  /**
   * Submits a signed tx in its canonical encoding. Without `wait` it answers once the tx is in
   * the mempool; with `wait: 'commit'` once it is committed (a tx that committed with a non-zero
   * code throws TX_FAILED, its result in `meta`).
   */
  submitTx(bytes: Uint8Array, opts: SubmitOptions = {}): Promise<SubmitResult> {
    const commit = opts.wait === 'commit';
    const timeoutMs = opts.timeoutMs ?? (commit ? this.commitTimeoutMs : this.timeoutMs);
    return this.#call('POST', '/txs', commit ? { wait: 'commit' } : {}, { tx: toHex(bytes) }, { ...opts, timeoutMs });
  }

  /**
   * Submits signed txs (1 to 1000) in one request; the node takes them in the order given. Each
   * tx gets its own result; those refused with `MEMPOOL_FULL` are worth sending again, in order.
   * A node whose mempool is already full refuses the whole request: MEMPOOL_FULL with
   * `meta.retryAfterMs`, the pause it asks for.
   */
  submitTxBatch(txs: Uint8Array[], opts?: CallOptions): Promise<SubmitBatchResult> {
    return this.#call('POST', '/txs/batch', {}, encodeCanonical(txs), opts);
  }

  /** A committed tx and its result; NOT_FOUND until it is committed. */
  tx(hash: string, opts?: CallOptions): Promise<TxResponse> {
    return this.#get(`/txs/${enc(hash)}`, {}, opts);
  }

  /**
   * Polls `GET /txs/:hash` until the tx is committed. Throws TX_FAILED when it committed with a
   * non-zero code, TIMEOUT when it is not committed within `timeoutMs` (default: commit timeout).
   */
  async waitForTx(hash: string, opts: WaitOptions = {}): Promise<TxResponse> {
    const deadline = Date.now() + (opts.timeoutMs ?? this.commitTimeoutMs);
    const interval = opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    for (;;) {
      const left = deadline - Date.now();
      let found: TxResponse | undefined;
      try {
        found = await this.tx(hash, { signal: opts.signal, timeoutMs: Math.max(1, Math.min(this.timeoutMs, left)) });
      } catch (err) {
        // NOT_FOUND means not committed yet; a poll that timed out is retried while time is left.
        const retry =
          err instanceof MedLedgerError && (err.code === 'NOT_FOUND' || err.code === ClientErrorCode.TIMEOUT);
        if (!retry) throw err;
      }
      if (found && typeof found.height === 'number') {
        if (found.code !== 0) {
          const { hash: h, height, index, code, log } = found;
          throw new MedLedgerError(ClientErrorCode.TX_FAILED, `tx failed with code ${code}: ${log}`, {
            hash: h,
            height,
            index,
            code,
            log,
          });
        }
        return found;
      }
      if (Date.now() + interval >= deadline) {
        throw new MedLedgerError(ClientErrorCode.TIMEOUT, `tx ${hash} not committed in time`, { hash });
      }
      await sleep(interval, opts.signal);
    }
  }

  account(address: string | Uint8Array, opts?: CallOptions): Promise<AccountResponse> {
    const hex = typeof address === 'string' ? address : toHex(address);
    return this.#get(`/accounts/${enc(hex)}`, {}, opts);
  }

  patient(id: string, opts?: CallOptions): Promise<PatientResponse> {
    return this.#get(`/patients/${enc(id)}`, {}, opts);
  }

  record(id: string, opts?: CallOptions): Promise<RecordResponse> {
    return this.#get(`/records/${enc(id)}`, {}, opts);
  }

  records(query: RecordsQuery, opts?: CallOptions): Promise<RecordsResponse> {
    const { patient, type, author, since, until, limit, cursor } = query;
    return this.#get('/records', { patient, type, author, since, until, limit, cursor }, opts);
  }

  consents(patient: string, opts?: CallOptions): Promise<ConsentsResponse> {
    return this.#get(`/patients/${enc(patient)}/consents`, {}, opts);
  }

  audit(patient: string, query: AuditQuery = {}, opts?: CallOptions): Promise<AuditResponse> {
    return this.#get(`/patients/${enc(patient)}/audit`, { limit: query.limit, cursor: query.cursor }, opts);
  }

  validators(opts?: CallOptions): Promise<ValidatorsResponse> {
    return this.#get('/validators', {}, opts);
  }

  orgs(opts?: CallOptions): Promise<OrgsResponse> {
    return this.#get('/orgs', {}, opts);
  }

  /** Member organisations with the validators they run (ADR 0007). */
  members(opts?: CallOptions): Promise<MembersResponse> {
    return this.#get('/members', {}, opts);
  }

  proposals(opts?: CallOptions): Promise<ProposalsResponse> {
    return this.#get('/proposals', {}, opts);
  }

  proposal(id: string, opts?: CallOptions): Promise<{ proposal: ProposalJson }> {
    return this.#get(`/proposals/${enc(id)}`, {}, opts);
  }

  evidence(query: PageQuery = {}, opts?: CallOptions): Promise<EvidenceResponse> {
    return this.#get('/evidence', { limit: query.limit, cursor: query.cursor }, opts);
  }

  /** Uploads a record's ciphertext and wrapped keys to the author's node (ADR 0006). */
  uploadDocument(record: string, body: DocumentUploadBody, opts?: CallOptions): Promise<DocumentUploadResponse> {
    return this.#call('PUT', `/records/${enc(record)}/document`, {}, body, opts);
  }

  /** Whether this node holds the record's document, and its erasure if there was one. */
  documentStatus(record: string, opts?: CallOptions): Promise<DocumentStatusJson> {
    return this.#get(`/records/${enc(record)}/document`, {}, opts);
  }

  /**
   * Fetches a document through this node from its holder, with a request signed by this node's
   * organisation. The holder commits the access event first, so this waits about a block.
   */
  fetchDocument(record: string, request: Uint8Array, opts: CallOptions = {}): Promise<FetchedDocumentJson> {
    const timeoutMs = opts.timeoutMs ?? this.commitTimeoutMs;
    return this.#call(
      'POST',
      `/records/${enc(record)}/document/fetch`,
      {},
      { request: toHex(request) },
      {
        ...opts,
        timeoutMs,
      },
    );
  }

  /** A patient's consents as a FHIR R4 Bundle of Consent resources. */
  consentsFhir(patient: string, opts?: CallOptions): Promise<Record<string, unknown>> {
    return this.#get(`/patients/${enc(patient)}/consents`, { format: 'fhir' }, opts);
  }

  /** A page of a patient's audit trail as a FHIR R4 Bundle of AuditEvent resources. */
  auditFhir(patient: string, query: AuditQuery = {}, opts?: CallOptions): Promise<Record<string, unknown>> {
    return this.#get(
      `/patients/${enc(patient)}/audit`,
      { format: 'fhir', limit: query.limit, cursor: query.cursor },
      opts,
    );
  }

  #get<T>(path: string, query: Query, opts?: CallOptions): Promise<T> {
    return this.#call('GET', path, query, undefined, opts);
  }

  async #call<T>(method: string, path: string, query: Query, body: unknown, opts: CallOptions = {}): Promise<T> {
    const url = new URL(this.api + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const where = { method, path, api: this.api };
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method, signal, ...requestBody(body) });
      text = await res.text();
    } catch (err) {
      throw transportError(err, timeout.aborted, timeoutMs, where);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) throw errorFromResponse(res.status, json, where, retryAfterMs(res.headers));
    if (!isRecord(json)) {
      throw new MedLedgerError(ClientErrorCode.BAD_RESPONSE, `${method} ${path}: answer is not a JSON object`, {
        ...where,
        status: res.status,
      });
    }
    return json as T;
  }
}

/** Bytes go as CBOR (already encoded), anything else as JSON. */
function requestBody(body: unknown): { headers: Record<string, string>; body?: string | Uint8Array } {
  if (body === undefined) return { headers: { accept: 'application/json' } };
  if (body instanceof Uint8Array) return { headers: { 'content-type': 'application/cbor' }, body };
  return { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

/**
 * Maps a documented error body to its code; anything else (a proxy's HTML page) to BAD_RESPONSE.
 * A node under load (503 `MEMPOOL_FULL`) says how long to wait: `meta.retryAfterMs`.
 */
function errorFromResponse(
  status: number,
  json: unknown,
  where: Record<string, unknown>,
  retryAfter: number | undefined,
): MedLedgerError {
  const e = isRecord(json) && isRecord(json.error) ? json.error : undefined;
  if (e && typeof e.code === 'string' && e.code !== '') {
    const message = typeof e.message === 'string' ? e.message : `HTTP ${status}`;
    const meta = isRecord(e.meta) ? e.meta : {};
    const wait = retryAfter === undefined ? {} : { retryAfterMs: retryAfter };
    return new MedLedgerError(e.code, message, { ...meta, ...where, status, ...wait });
  }
  return new MedLedgerError(ClientErrorCode.BAD_RESPONSE, `HTTP ${status} without an error body`, {
    ...where,
    status,
  });
}

/** `Retry-After` in seconds (the form the node sends) as milliseconds; an HTTP date is ignored. */
function retryAfterMs(headers: Headers): number | undefined {
  const value = headers.get('retry-after')?.trim();
  return value !== undefined && /^\d{1,6}$/.test(value) ? Number(value) * 1000 : undefined;
}

function transportError(
  err: unknown,
  timedOut: boolean,
  timeoutMs: number,
  where: Record<string, unknown>,
): MedLedgerError {
  const name = (err as { name?: unknown })?.name;
  if (timedOut || name === 'TimeoutError') {
    return new MedLedgerError(ClientErrorCode.TIMEOUT, `no answer from ${where.api} within ${timeoutMs} ms`, where);
  }
  if (name === 'AbortError') return new MedLedgerError(ClientErrorCode.ABORTED, 'call aborted', where);
  // undici reports connection failures as TypeError('fetch failed') with the socket error as cause.
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const detail = typeof cause?.code === 'string' ? cause.code : String((cause?.message ?? err) as unknown);
  return new MedLedgerError(ClientErrorCode.UNREACHABLE, `cannot reach ${where.api}: ${detail}`, {
    ...where,
    cause: detail,
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new MedLedgerError(ClientErrorCode.ABORTED, 'call aborted'));
    const onAbort = () => {
      clearTimeout(t);
      reject(new MedLedgerError(ClientErrorCode.ABORTED, 'call aborted'));
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
