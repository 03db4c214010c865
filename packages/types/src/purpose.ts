import { shapeError } from './errors.js';

/**
 * Purposes of use: a closed list, so a consent or an access event carries a code and never free
 * text (free text on chain could name a patient or a diagnosis). Each is an HL7 v3 ActReason
 * purpose-of-use code, which the FHIR views give as the coding (ADR 0006).
 */
export const Purpose = {
  treatment: { code: 'TREAT', display: 'treatment' },
  emergency: { code: 'ETREAT', display: 'Emergency Treatment' },
  'care-management': { code: 'CAREMGT', display: 'care management' },
  research: { code: 'HRESCH', display: 'healthcare research' },
  'clinical-trial': { code: 'CLINTRCH', display: 'clinical trial research' },
  billing: { code: 'HPAYMT', display: 'healthcare payment' },
  coverage: { code: 'COVERAGE', display: 'coverage under policy or program' },
  operations: { code: 'HOPERAT', display: 'healthcare operations' },
  'public-health': { code: 'PUBHLTH', display: 'public health' },
  legal: { code: 'HLEGAL', display: 'legal' },
  'patient-request': { code: 'PATRQT', display: 'patient requested' },
} as const;
export type Purpose = keyof typeof Purpose;
export const PURPOSES = Object.keys(Purpose) as readonly Purpose[];

export function isPurpose(v: unknown): v is Purpose {
  // Own keys only: 'constructor' or 'toString' are not purposes.
  return typeof v === 'string' && Object.hasOwn(Purpose, v);
}

/** The purpose, or a shape error that lists the codes (never the value given). */
export function assertPurpose(v: unknown, field: string): Purpose {
  if (!isPurpose(v)) throw shapeError(field, `one of ${PURPOSES.join(', ')}`);
  return v;
}
