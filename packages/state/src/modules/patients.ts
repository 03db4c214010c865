import { addressHex, verifyPatientClaim } from '@medledger/crypto';
import { bytesEqual, toHex, type PatientClaimPayload, type PatientRegisterPayload } from '@medledger/types';
import { TxCode, type PatientView } from '../interface.js';
import { fail, ok, type ExecContext, type StateReader, type TxHandler } from '../context.js';
import { KeyRole, decodePatient, encodeEntry, type PatientEntry } from '../entities.js';
import { patientKey } from '../keys.js';
import { readKeyOwner } from './registry.js';

/**
 * Patients: a pseudonymous id, the patient's own account key (if the patient holds one), the
 * custodian organisation (if a member registered the patient), and an encryption key.
 */
export const registerPatient: TxHandler<'patient.register'> = (ctx, p: PatientRegisterPayload) => {
  let custodian: string | null;
  if (ctx.signer?.role === KeyRole.Org) {
    custodian = ctx.signer.org;
  } else if (ctx.signer?.role === KeyRole.Node) {
    return fail(TxCode.Unauthorized, 'a node key cannot register patients; use the organisation key');
  } else {
    if (p.account === null || !bytesEqual(p.account, ctx.tx.from)) {
      return fail(TxCode.Unauthorized, 'self-registration must be signed by the patient account');
    }
    custodian = null;
  }
  if (p.account !== null && readKeyOwner(ctx.store, p.account) !== undefined) {
    return fail(TxCode.Invalid, 'a member key cannot be a patient account');
  }
  const key = patientKey(p.patient);
  if (ctx.store.has(key)) return fail(TxCode.AlreadyExists, 'patient already registered');
  const entry: PatientEntry = {
    id: p.patient,
    account: p.account,
    custodian,
    encKey: p.encKey,
    registeredAt: ctx.time,
    height: ctx.height,
  };
  ctx.store.put(key, encodeEntry(entry));
  return ok();
};

/**
 * `patient.claim`: the custodian hands a patient it registered without an account to the
 * patient's own account key, which signed the claim. From then on that account speaks for the
 * patient (consent, erasure) and the organisation no longer does.
 */
export const claimPatient: TxHandler<'patient.claim'> = (ctx, p: PatientClaimPayload) => {
  const patient = readPatient(ctx.store, p.patient);
  if (!patient) return fail(TxCode.NotFound, 'patient not found');
  if (patient.account !== null) return fail(TxCode.AlreadyExists, 'the patient already holds an account');
  if (ctx.signer?.role !== KeyRole.Org || ctx.signer.org !== patient.custodian) {
    return fail(TxCode.Unauthorized, "a patient's account is handed over by its custodian's org key");
  }
  if (readKeyOwner(ctx.store, p.account) !== undefined) {
    return fail(TxCode.Invalid, 'a member key cannot be a patient account');
  }
  if (!verifyPatientClaim(ctx.chainId, p.patient, p.account, p.proof)) {
    return fail(TxCode.Unauthorized, 'the account did not sign this claim');
  }
  ctx.store.put(patientKey(p.patient), encodeEntry({ ...patient, account: p.account, custodian: null }));
  return ok();
};

export function readPatient(store: StateReader, id: string): PatientEntry | undefined {
  const bytes = store.get(patientKey(id));
  return bytes === undefined ? undefined : decodePatient(bytes);
}

/**
 * Who speaks for a patient (consent grant and revoke): the patient's own account when there is
 * one, otherwise the custodian organisation's org key.
 */
export function controlsPatient(ctx: ExecContext, patient: PatientEntry): boolean {
  if (patient.account !== null) return bytesEqual(ctx.tx.from, patient.account);
  return ctx.signer?.role === KeyRole.Org && ctx.signer.org === patient.custodian;
}

export function patientView(p: PatientEntry): PatientView {
  return {
    id: p.id,
    account: p.account === null ? null : addressHex(p.account),
    custodian: p.custodian,
    encKey: p.encKey === null ? null : toHex(p.encKey),
    registeredAt: p.registeredAt,
  };
}
