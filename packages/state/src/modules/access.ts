import { uint64BE } from '@medledger/db';
import { toHex, type AccessLogPayload } from '@medledger/types';
import { TxCode, type AccessEventView, type TxResult } from '../interface.js';
import { fail, ok, type ExecContext, type TxHandler } from '../context.js';
import { KeyRole, encodeEntry, type AccessEventEntry, type RecordEntry } from '../entities.js';
import { accessByAccessorKey, accessByPatientKey, accessEventKey, eventId } from '../keys.js';
import { ConsentStatus, consentStatus, readConsent } from './consent.js';
import { readRecord } from './records.js';

/**
 * Access audit (after FHIR R4 AuditEvent): every document read is an event naming who read
 * which record, when, for what purpose, under which consent, or as a flagged break-glass
 * access. An access without a covering consent is refused, so the trail only holds accesses
 * that were allowed.
 */
const EMPTY = new Uint8Array(0);

export const logAccess: TxHandler<'access.log'> = (ctx, p: AccessLogPayload) => {
  if (ctx.signer?.role !== KeyRole.Org) return fail(TxCode.Unauthorized, 'access is logged with an organisation key');
  const accessor = ctx.signer.org;
  const record = readRecord(ctx.store, p.record);
  if (!record) return fail(TxCode.NotFound, 'record not found');
  // Without a consent it is break-glass (the payload shape guarantees a reason code): allowed, and flagged.
  if (p.consent !== null) {
    const refused = checkConsent(ctx, p.consent, accessor, record, p.purpose);
    if (refused) return refused;
  }
  writeAccessEvent(ctx, record, { accessor, purpose: p.purpose, consent: p.consent, breakGlass: p.breakGlass });
  return ok();
};

/**
 * The consent rules every access goes through (`access.log` and `access.serve`): granted to the
 * accessor, for this record's patient and this purpose, active at block time, and covering the
 * record by type or id. Returns the refusal, or undefined when the consent covers the access.
 */
export function checkConsent(
  ctx: ExecContext,
  consentId: string,
  accessor: string,
  record: RecordEntry,
  purpose: string,
): TxResult | undefined {
  const consent = readConsent(ctx.store, consentId);
  if (!consent) return fail(TxCode.NotFound, 'consent not found');
  if (consent.grantee !== accessor) return fail(TxCode.Unauthorized, 'consent was granted to another organisation');
  if (consent.patient !== record.patient) return fail(TxCode.Unauthorized, 'consent is for another patient');
  if (consent.purpose !== purpose) return fail(TxCode.Unauthorized, 'consent is for another purpose');
  const status = consentStatus(consent, ctx.time);
  if (status === ConsentStatus.Revoked) return fail(TxCode.Unauthorized, 'consent was revoked');
  if (status === ConsentStatus.Expired) return fail(TxCode.Expired, 'consent has expired');
  if (!consent.scope.types.includes(record.resourceType) && !consent.scope.records.includes(record.id)) {
    return fail(TxCode.Unauthorized, 'record is outside the consent scope');
  }
  return undefined;
}

/** Stores an access event at (height, tx index) and indexes it by patient and by accessor. */
export function writeAccessEvent(
  ctx: ExecContext,
  record: RecordEntry,
  access: Pick<AccessEventEntry, 'accessor' | 'purpose' | 'consent' | 'breakGlass'>,
): void {
  const entry: AccessEventEntry = {
    record: record.id,
    patient: record.patient,
    ...access,
    time: ctx.time,
    height: ctx.height,
    index: ctx.txIndex,
    tx: ctx.txHash,
  };
  const id = eventId(ctx.height, ctx.txIndex);
  ctx.store.put(accessEventKey(id), encodeEntry(entry));
  for (const indexKey of accessIndexKeys(entry, id)) ctx.store.put(indexKey, EMPTY);
}

/** Keys end in time(8) ‖ height(8) ‖ tx index(4); the last 12 bytes name the event. */
export function accessIndexKeys(e: AccessEventEntry, id: Uint8Array): Uint8Array[] {
  const time = uint64BE(e.time);
  return [accessByPatientKey(e.patient, time, id), accessByAccessorKey(e.accessor, time, id)];
}

export function accessEventView(e: AccessEventEntry): AccessEventView {
  return {
    record: e.record,
    patient: e.patient,
    accessor: e.accessor,
    purpose: e.purpose,
    consent: e.consent,
    breakGlass: e.breakGlass,
    time: e.time,
    height: e.height,
    tx: toHex(e.tx),
  };
}
