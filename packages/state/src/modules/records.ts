import { uint64BE } from '@medledger/db';
import { toHex, type RecordAnchorPayload } from '@medledger/types';
import { TxCode, type RecordView } from '../interface.js';
import { fail, ok, type StateReader, type TxHandler } from '../context.js';
import { KeyRole, decodeRecord, encodeEntry, type RecordEntry } from '../entities.js';
import {
  idBytes,
  patientKey,
  recordKey,
  recordsByAuthorKey,
  recordsByAuthorTypeKey,
  recordsByPatientKey,
  recordsByPatientTypeKey,
  recordsByTypeKey,
  successorKey,
} from '../keys.js';

/**
 * Records: an anchored document version. An amendment is a new record that names the version
 * it amends; each version can be amended once (the `successor` entry), so history is a chain
 * and never forks or gets rewritten. Only the author organisation amends its record, for the
 * same patient and FHIR resource type.
 */
const EMPTY = new Uint8Array(0);

export const anchorRecord: TxHandler<'record.anchor'> = (ctx, p: RecordAnchorPayload) => {
  if (ctx.signer?.role !== KeyRole.Org)
    return fail(TxCode.Unauthorized, 'records are anchored with an organisation key');
  const author = ctx.signer.org;
  // Existence only: a point read without decoding the patient entry.
  if (!ctx.store.has(patientKey(p.patient))) return fail(TxCode.NotFound, 'patient not found');
  const key = recordKey(p.record);
  if (ctx.store.has(key)) return fail(TxCode.AlreadyExists, 'record id already used');

  let version = 1;
  if (p.previous !== null) {
    const previous = readRecord(ctx.store, p.previous);
    if (!previous) return fail(TxCode.NotFound, 'previous version not found');
    if (previous.patient !== p.patient) return fail(TxCode.Invalid, 'previous version belongs to another patient');
    if (previous.author !== author) return fail(TxCode.Unauthorized, 'only the author organisation amends a record');
    if (previous.resourceType !== p.resourceType) {
      return fail(TxCode.Invalid, 'an amendment keeps the resource type of the version it amends');
    }
    const successor = successorKey(p.previous);
    if (ctx.store.has(successor)) return fail(TxCode.AlreadyExists, 'previous version was already amended');
    ctx.store.put(successor, idBytes(p.record));
    version = previous.version + 1;
  }

  const entry: RecordEntry = {
    id: p.record,
    patient: p.patient,
    author,
    resourceType: p.resourceType,
    contentHash: p.contentHash,
    size: p.size,
    version,
    previous: p.previous,
    createdAt: ctx.time,
    height: ctx.height,
  };
  const value = encodeEntry(entry);
  ctx.store.put(key, value);
  const [byPatient, ...others] = recordIndexKeys(entry);
  // The by-patient index entry holds a copy of the record (a covering index): a patient's
  // history is then one range read instead of a point read per record, scattered over the
  // database by the records' random ids. Records are never rewritten, so the copy cannot go
  // stale; anything that one day updates a record must update this copy too. The index is
  // not part of the app hash (ADR 0004), so this is a local storage choice, not consensus.
  ctx.store.put(byPatient!, value);
  for (const indexKey of others) ctx.store.put(indexKey, EMPTY);
  return ok();
};

/** One index entry per query path; each key ends in time(8) ‖ record id(16). */
export function recordIndexKeys(r: RecordEntry): Uint8Array[] {
  const time = uint64BE(r.createdAt);
  const id = idBytes(r.id);
  return [
    recordsByPatientKey(r.patient, time, id),
    recordsByPatientTypeKey(r.patient, r.resourceType, time, id),
    recordsByAuthorKey(r.author, time, id),
    recordsByAuthorTypeKey(r.author, r.resourceType, time, id),
    recordsByTypeKey(r.resourceType, time, id),
  ];
}

export function readRecord(store: StateReader, id: string | Uint8Array): RecordEntry | undefined {
  const bytes = store.get(recordKey(id));
  return bytes === undefined ? undefined : decodeRecord(bytes);
}

export function recordView(r: RecordEntry): RecordView {
  return {
    id: r.id,
    patient: r.patient,
    author: r.author,
    resourceType: r.resourceType,
    contentHash: toHex(r.contentHash),
    size: r.size,
    version: r.version,
    previous: r.previous,
    createdAt: r.createdAt,
    height: r.height,
  };
}
