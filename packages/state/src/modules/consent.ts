import { uint64BE } from '@medledger/db';
import type { ConsentGrantPayload, ConsentRevokePayload } from '@medledger/types';
import { TxCode, type ConsentView } from '../interface.js';
import { fail, ok, type StateReader, type TxHandler } from '../context.js';
import { decodeConsent, encodeEntry, type ConsentEntry } from '../entities.js';
import { consentKey, consentsByGranteeKey, consentsByPatientKey, idBytes } from '../keys.js';
import { controlsPatient, readPatient } from './patients.js';
import { readOrg } from './registry.js';

/**
 * Consent (after FHIR R4 Consent): the patient (or the custodian, for a patient without an
 * account) lets one organisation read records in a scope for one purpose until an expiry.
 * A consent is active while not revoked and, if it has an expiry, while block time < expires.
 */
const EMPTY = new Uint8Array(0);

export const ConsentStatus = { Active: 'active', Revoked: 'revoked', Expired: 'expired' } as const;
export type ConsentStatus = (typeof ConsentStatus)[keyof typeof ConsentStatus];

export function consentStatus(c: ConsentEntry, now: number): ConsentStatus {
  if (c.revokedAt !== null) return ConsentStatus.Revoked;
  if (c.expires !== 0 && now >= c.expires) return ConsentStatus.Expired;
  return ConsentStatus.Active;
}

export const grantConsent: TxHandler<'consent.grant'> = (ctx, p: ConsentGrantPayload) => {
  const patient = readPatient(ctx.store, p.patient);
  if (!patient) return fail(TxCode.NotFound, 'patient not found');
  if (!controlsPatient(ctx, patient)) {
    return fail(TxCode.Unauthorized, 'consent is granted by the patient account, or the custodian without one');
  }
  if (!readOrg(ctx.store, p.grantee)) return fail(TxCode.NotFound, 'grantee organisation not found');
  if (p.expires !== 0 && p.expires <= ctx.time) return fail(TxCode.Expired, 'expiry is not after the block time');
  const key = consentKey(p.consent);
  if (ctx.store.has(key)) return fail(TxCode.AlreadyExists, 'consent id already used');
  const entry: ConsentEntry = {
    id: p.consent,
    patient: p.patient,
    grantee: p.grantee,
    scope: { types: [...p.scope.types], records: [...p.scope.records] },
    purpose: p.purpose,
    expires: p.expires,
    grantedAt: ctx.time,
    revokedAt: null,
    height: ctx.height,
  };
  ctx.store.put(key, encodeEntry(entry));
  for (const indexKey of consentIndexKeys(entry)) ctx.store.put(indexKey, EMPTY);
  return ok();
};

export const revokeConsent: TxHandler<'consent.revoke'> = (ctx, p: ConsentRevokePayload) => {
  const consent = readConsent(ctx.store, p.consent);
  if (!consent) return fail(TxCode.NotFound, 'consent not found');
  const patient = readPatient(ctx.store, consent.patient);
  if (!patient || !controlsPatient(ctx, patient)) {
    return fail(TxCode.Unauthorized, 'consent is revoked by the patient account, or the custodian without one');
  }
  const status = consentStatus(consent, ctx.time);
  if (status === ConsentStatus.Revoked) return fail(TxCode.Invalid, 'consent already revoked');
  if (status === ConsentStatus.Expired) return fail(TxCode.Expired, 'consent already expired');
  ctx.store.put(consentKey(p.consent), encodeEntry({ ...consent, revokedAt: ctx.time }));
  return ok();
};

/** Keys end in grantedAt(8) ‖ consent id(16): time-ordered lists. */
export function consentIndexKeys(c: ConsentEntry): Uint8Array[] {
  const time = uint64BE(c.grantedAt);
  const id = idBytes(c.id);
  return [consentsByPatientKey(c.patient, time, id), consentsByGranteeKey(c.grantee, time, id)];
}

export function readConsent(store: StateReader, id: string | Uint8Array): ConsentEntry | undefined {
  const bytes = store.get(consentKey(id));
  return bytes === undefined ? undefined : decodeConsent(bytes);
}

export function consentView(c: ConsentEntry, now: number): ConsentView {
  return {
    id: c.id,
    patient: c.patient,
    grantee: c.grantee,
    scope: { types: [...c.scope.types], records: [...c.scope.records] },
    purpose: c.purpose,
    expires: c.expires,
    grantedAt: c.grantedAt,
    revokedAt: c.revokedAt,
    status: consentStatus(c, now),
  };
}
