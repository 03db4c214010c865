import type { ConsentView, RecordView, StateQueries } from '@medledger/state';
import { DocErrorCode, docError } from './errors.js';

/**
 * The holder's consent check (ADR 0006), over committed state as of the latest block: the
 * same rules the `access.serve` handler applies again at block time, plus a precise reason
 * when no consent covers the read. Break-glass needs no consent (it is flagged on chain).
 */
export function covers(c: ConsentView, record: RecordView): boolean {
  return c.scope.types.includes(record.resourceType) || c.scope.records.includes(record.id);
}

export async function decideAccess(
  queries: Pick<StateQueries, 'consentsByPatient'>,
  record: RecordView,
  reader: string,
  purpose: string,
  breakGlass: string | null,
  now: number,
): Promise<{ consent: string | null }> {
  if (breakGlass !== null) return { consent: null };
  const relevant = (await queries.consentsByPatient(record.patient, now)).filter(
    (c) => c.grantee === reader && covers(c, record),
  );
  const usable = relevant.find((c) => c.status === 'active' && c.purpose === purpose);
  if (usable) return { consent: usable.id };
  if (relevant.length === 0) {
    throw docError(DocErrorCode.NO_CONSENT, 'no consent of the patient covers this organisation and record');
  }
  const forPurpose = relevant.filter((c) => c.purpose === purpose);
  if (forPurpose.length === 0) {
    throw docError(DocErrorCode.PURPOSE_MISMATCH, 'no consent covers this purpose');
  }
  // Lists are oldest first: the latest consent for this purpose says why it no longer holds.
  const latest = forPurpose[forPurpose.length - 1]!;
  if (latest.status === 'revoked') throw docError(DocErrorCode.CONSENT_REVOKED, 'the consent was revoked');
  throw docError(DocErrorCode.CONSENT_EXPIRED, 'the consent has expired');
}
