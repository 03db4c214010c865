import { compareBytes, FHIR_TYPE_RE, fromHex, ID_RE, ORG_ID_RE } from '@medledger/types';
import { concatBytes, keySuccessor, prefixEnd, prefixRange, uint64BE, type KeyValueReader } from '@medledger/db';
import type {
  AccessEventView,
  EvidenceView,
  ConsentView,
  OrgView,
  Page,
  PatientView,
  RecordQuery,
  RecordView,
  StateQueries,
} from './interface.js';
import type { StateReader } from './context.js';
import { decodeAccessEvent, decodeEvidence, decodeOrg, decodeRecord } from './entities.js';
import { StateErrorCode, stateError } from './errors.js';
import { CursorKind, decodeCursor, encodeCursor } from './cursor.js';
import {
  ACCESS_TAIL,
  EVIDENCE_TAIL,
  EVENT_ID_BYTES,
  ID_BYTES,
  TIME_ID_TAIL,
  accessByAccessorKey,
  accessByPatientKey,
  accessEventKey,
  consentsByGranteeKey,
  consentsByPatientKey,
  evidencePrefix,
  orgPrefix,
  recordsByAuthorKey,
  recordsByAuthorTypeKey,
  recordsByPatientKey,
  recordsByPatientTypeKey,
  recordsByTypeKey,
  servedRequestKey,
} from './keys.js';
import type { QueryLimits } from './options.js';
import { readNonce } from './modules/accounts.js';
import { accessEventView } from './modules/access.js';
import { consentView, readConsent } from './modules/consent.js';
import { evidenceView } from './modules/evidence.js';
import { patientView, readPatient } from './modules/patients.js';
import { readRecord, recordView } from './modules/records.js';
import { orgView, readKeyOwner, readOrg } from './modules/registry.js';
import { erasureView, readErasure, type ErasureView } from './modules/erasure.js';
import {
  decodeGovProposal,
  listProposals,
  memberNodeKeys,
  proposalView,
  type ProposalView,
} from './modules/governance.js';
import { proposalKey } from './keys.js';

const ADDRESS_RE = /^[0-9a-f]{40}$/;
const PUBKEY_RE = /^[0-9a-f]{64}$/;
const HASH_RE = /^[0-9a-f]{64}$/;

export interface QueryModules {
  db: KeyValueReader;
  /** Time of the last committed block: the "now" of a consent's status in `consent(id)`. */
  committedTime(): number;
}

/**
 * Read-only queries over committed state (never the block being executed). Lists are served
 * from index key ranges: the range bounds carry the time window and the cursor, so a page costs
 * one range read plus one point read per item. Only a patient query that also names an author
 * filters rows, and a patient's range is short.
 */
export class StateQueryService implements StateQueries {
  readonly #db: KeyValueReader;
  readonly #reader: StateReader;
  readonly #limits: QueryLimits;
  readonly #committedTime: () => number;

  constructor(limits: QueryLimits, modules: QueryModules) {
    this.#db = modules.db;
    this.#reader = { get: (key) => modules.db.getSync(key) };
    this.#limits = limits;
    this.#committedTime = modules.committedTime;
  }

  async account(address: string): Promise<{ nonce: number } | undefined> {
    if (typeof address !== 'string' || !ADDRESS_RE.test(address)) return undefined;
    const nonce = readNonce(this.#reader, fromHex(address));
    return nonce === undefined ? undefined : { nonce };
  }

  async org(id: string): Promise<OrgView | undefined> {
    if (!matches(id, ORG_ID_RE)) return undefined;
    const org = readOrg(this.#reader, id);
    return org && orgView(org);
  }

  async orgs(): Promise<OrgView[]> {
    const views: OrgView[] = [];
    for await (const [, value] of this.#db.range(prefixRange(orgPrefix()))) views.push(orgView(decodeOrg(value)));
    return views.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async orgOfKey(pubKeyHex: string): Promise<string | undefined> {
    if (!matches(pubKeyHex, PUBKEY_RE)) return undefined;
    return readKeyOwner(this.#reader, fromHex(pubKeyHex))?.org;
  }

  async patient(id: string): Promise<PatientView | undefined> {
    if (!matches(id, ID_RE)) return undefined;
    const patient = readPatient(this.#reader, id);
    return patient && patientView(patient);
  }

  async record(id: string): Promise<RecordView | undefined> {
    if (!matches(id, ID_RE)) return undefined;
    const record = readRecord(this.#reader, id);
    return record && recordView(record);
  }

  async records(q: RecordQuery): Promise<Page<RecordView>> {
    const patient = optionalParam(q.patient, ID_RE, 'patient');
    const author = optionalParam(q.author, ORG_ID_RE, 'author');
    const type = optionalParam(q.type, FHIR_TYPE_RE, 'type');
    if (patient === undefined && author === undefined && type === undefined) {
      throw stateError(StateErrorCode.INVALID_QUERY, 'a records query needs a patient, author or type');
    }
    // Every combination has an exact index except patient + author: range on the patient (the
    // most selective, a few records) and filter on the author.
    let prefix: Uint8Array;
    let authorFilter: string | undefined;
    if (patient !== undefined) {
      prefix = type !== undefined ? recordsByPatientTypeKey(patient, type) : recordsByPatientKey(patient);
      authorFilter = author;
    } else if (author !== undefined) {
      prefix = type !== undefined ? recordsByAuthorTypeKey(author, type) : recordsByAuthorKey(author);
    } else {
      prefix = recordsByTypeKey(type!);
    }
    return this.#page({
      prefix,
      since: optionalTime(q.since, 'since'),
      until: optionalTime(q.until, 'until'),
      cursor: q.cursor,
      limit: this.#limit(q.limit),
      kind: CursorKind.Record,
      tailBytes: TIME_ID_TAIL,
      filtered: authorFilter !== undefined,
      load: (key, value) => {
        // The by-patient index carries the record itself (records.ts): no point read per item.
        const record =
          value.length > 0 ? decodeRecord(value) : readRecord(this.#reader, key.subarray(key.length - ID_BYTES));
        if (!record) throw danglingIndex('record');
        if (authorFilter !== undefined && record.author !== authorFilter) return undefined;
        return recordView(record);
      },
    });
  }

  async consent(id: string): Promise<ConsentView | undefined> {
    if (!matches(id, ID_RE)) return undefined;
    const consent = readConsent(this.#reader, id);
    return consent && consentView(consent, this.#committedTime());
  }

  async consentsByPatient(patient: string, now: number): Promise<ConsentView[]> {
    return this.#consents(consentsByPatientKey(requiredParam(patient, ID_RE, 'patient')), now);
  }

  async consentsByGrantee(org: string, now: number): Promise<ConsentView[]> {
    return this.#consents(consentsByGranteeKey(requiredParam(org, ORG_ID_RE, 'org')), now);
  }

  async accessByPatient(
    patient: string,
    opts: { limit?: number; cursor?: string } = {},
  ): Promise<Page<AccessEventView>> {
    return this.#accessPage(accessByPatientKey(requiredParam(patient, ID_RE, 'patient')), opts);
  }

  async accessByAccessor(org: string, opts: { limit?: number; cursor?: string } = {}): Promise<Page<AccessEventView>> {
    return this.#accessPage(accessByAccessorKey(requiredParam(org, ORG_ID_RE, 'org')), opts);
  }

  /** By validator, then height, round and type. */
  async evidence(opts: { limit?: number; cursor?: string } = {}): Promise<Page<EvidenceView>> {
    return this.#page({
      prefix: evidencePrefix(),
      since: undefined,
      until: undefined,
      cursor: opts.cursor,
      limit: this.#limit(opts.limit),
      kind: CursorKind.Evidence,
      tailBytes: EVIDENCE_TAIL,
      filtered: false,
      load: (_key, value) => evidenceView(decodeEvidence(value)),
    });
  }

  async proposals(): Promise<ProposalView[]> {
    return listProposals(this.#db, this.#committedTime());
  }

  async proposal(id: string): Promise<ProposalView | undefined> {
    if (!matches(id, ID_RE)) return undefined;
    const bytes = this.#db.getSync(proposalKey(id));
    return bytes === undefined ? undefined : proposalView(decodeGovProposal(bytes), this.#committedTime());
  }

  async memberNodeKeys(): Promise<string[]> {
    return memberNodeKeys(this.#db);
  }

  async erasure(record: string): Promise<ErasureView | undefined> {
    if (!matches(record, ID_RE)) return undefined;
    const erasure = readErasure(this.#reader, record);
    return erasure && erasureView(erasure);
  }

  async requestServed(requestHash: string): Promise<boolean> {
    if (!matches(requestHash, HASH_RE)) return false;
    return this.#reader.get(servedRequestKey(fromHex(requestHash))) !== undefined;
  }

  async #consents(prefix: Uint8Array, now: number): Promise<ConsentView[]> {
    const at = requiredTime(now, 'now');
    const views: ConsentView[] = [];
    for await (const [key] of this.#db.range(prefixRange(prefix))) {
      const consent = readConsent(this.#reader, key.subarray(key.length - ID_BYTES));
      if (!consent) throw danglingIndex('consent');
      views.push(consentView(consent, at));
    }
    return views;
  }

  #accessPage(prefix: Uint8Array, opts: { limit?: number; cursor?: string }): Promise<Page<AccessEventView>> {
    return this.#page({
      prefix,
      since: undefined,
      until: undefined,
      cursor: opts.cursor,
      limit: this.#limit(opts.limit),
      kind: CursorKind.Access,
      tailBytes: ACCESS_TAIL,
      filtered: false,
      load: (key) => {
        const value = this.#db.getSync(accessEventKey(key.subarray(key.length - EVENT_ID_BYTES)));
        if (value === undefined) throw danglingIndex('access event');
        return accessEventView(decodeAccessEvent(value));
      },
    });
  }

  /**
   * One page of an index range `prefix ‖ time(8) ‖ ...`: since/until (inclusive, block time ms)
   * and the cursor become the range bounds. Reads one entry past the page to know whether
   * there is a next page, so the last page never comes with a cursor to an empty one.
   */
  async #page<T>(p: {
    prefix: Uint8Array;
    since: number | undefined;
    until: number | undefined;
    cursor: string | undefined;
    limit: number;
    kind: CursorKind;
    tailBytes: number;
    filtered: boolean;
    load: (key: Uint8Array, value: Uint8Array) => T | undefined;
  }): Promise<Page<T>> {
    let gte = concatBytes(p.prefix, uint64BE(p.since ?? 0));
    if (p.cursor !== undefined) {
      const after = keySuccessor(concatBytes(p.prefix, decodeCursor(p.cursor, p.kind, p.tailBytes)));
      if (compareBytes(after, gte) > 0) gte = after;
    }
    const lt =
      p.until === undefined || p.until >= Number.MAX_SAFE_INTEGER
        ? prefixEnd(p.prefix)
        : concatBytes(p.prefix, uint64BE(p.until + 1));
    if (compareBytes(gte, lt) >= 0) return { items: [], next: null };

    const found: { item: T; position: Uint8Array }[] = [];
    const range = this.#db.range(p.filtered ? { gte, lt } : { gte, lt, limit: p.limit + 1 });
    for await (const [key, value] of range) {
      const item = p.load(key, value);
      if (item === undefined) continue;
      found.push({ item, position: key.subarray(key.length - p.tailBytes) });
      if (found.length > p.limit) break;
    }
    const more = found.length > p.limit;
    if (more) found.length = p.limit;
    return {
      items: found.map((f) => f.item),
      next: more ? encodeCursor(p.kind, found[found.length - 1]!.position) : null,
    };
  }

  #limit(limit: number | undefined): number {
    if (limit === undefined) return this.#limits.defaultLimit;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw stateError(StateErrorCode.INVALID_QUERY, 'limit must be a positive integer', { field: 'limit' });
    }
    return Math.min(limit, this.#limits.maxLimit);
  }
}

function matches(v: unknown, re: RegExp): v is string {
  return typeof v === 'string' && re.test(v);
}

function optionalParam(v: unknown, re: RegExp, field: string): string | undefined {
  if (v === undefined) return undefined;
  return requiredParam(v, re, field);
}

function requiredParam(v: unknown, re: RegExp, field: string): string {
  if (!matches(v, re)) {
    throw stateError(StateErrorCode.INVALID_QUERY, `${field} is malformed (expected ${re.source})`, { field });
  }
  return v;
}

function optionalTime(v: unknown, field: string): number | undefined {
  return v === undefined ? undefined : requiredTime(v, field);
}

function requiredTime(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw stateError(StateErrorCode.INVALID_QUERY, `${field} must be a time in ms (a non-negative integer)`, {
      field,
    });
  }
  return v;
}

function danglingIndex(what: string) {
  return stateError(StateErrorCode.CORRUPT, `an index entry points to a missing ${what}`);
}
