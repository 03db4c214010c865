import type { AccessEventView, ConsentView } from '@medledger/state';
import { BreakGlassReason, Purpose, isBreakGlassReason } from '@medledger/types';

/**
 * FHIR R4 views of the consent and audit state (`?format=fhir`): Consent and AuditEvent
 * resources in a `collection` Bundle. On-chain ids are 32 (records, consents, patients) or 64
 * (tx hashes) hex characters, which are valid FHIR ids. Organisations are referenced by
 * identifier (`urn:medledger:org`), records by identifier (`urn:medledger:record`).
 */
export const FhirSystem = {
  org: 'urn:medledger:org',
  record: 'urn:medledger:record',
  consent: 'urn:medledger:consent',
  breakGlassReason: 'urn:medledger:break-glass-reason',
  actReason: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  participationType: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType',
  consentScope: 'http://terminology.hl7.org/CodeSystem/consentscope',
  consentAction: 'http://terminology.hl7.org/CodeSystem/consentaction',
  loinc: 'http://loinc.org',
  resourceTypes: 'http://hl7.org/fhir/resource-types',
  dicom: 'http://dicom.nema.org/resources/ontology/DCM',
  restful: 'http://hl7.org/fhir/restful-interaction',
  entityType: 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
  objectRole: 'http://terminology.hl7.org/CodeSystem/object-role',
  sourceType: 'http://terminology.hl7.org/CodeSystem/security-source-type',
} as const;

interface Coding {
  system: string;
  code: string;
  display?: string;
}

/** Emergency treatment: the purpose and security label of every break-glass access. */
export const ETREAT: Coding = { system: FhirSystem.actReason, code: 'ETREAT', display: 'Emergency Treatment' };

const OVRER: Coding = { system: FhirSystem.actReason, code: 'OVRER', display: 'emergency treatment override' };
/** HL7 v3 ActReason consent override reasons (ActConsentInformationAccessOverrideReason) per break-glass code. */
const OVERRIDES: Record<BreakGlassReason, Coding> = {
  unconscious: OVRER,
  'life-threatening': OVRER,
  'urgent-treatment': OVRER,
  'consent-unobtainable': { system: FhirSystem.actReason, code: 'OVRPJ', display: 'professional judgment override' },
  'public-health': { system: FhirSystem.actReason, code: 'OVRPS', display: 'public safety override' },
};

/** The chain's purposes are HL7 v3 ActReason purpose-of-use codes (a closed list, ADR 0006). */
export function purposeCoding(purpose: string): Coding {
  // State decoding admits only `Purpose` codes.
  return { system: FhirSystem.actReason, ...Purpose[purpose as Purpose] };
}

const iso = (ms: number) => new Date(ms).toISOString();
const orgRef = (id: string, names: ReadonlyMap<string, string>) => ({
  type: 'Organization',
  identifier: { system: FhirSystem.org, value: id },
  ...(names.has(id) ? { display: names.get(id) } : {}),
});

export function consentToFhir(c: ConsentView, names: ReadonlyMap<string, string> = new Map()): Record<string, unknown> {
  const period: Record<string, string> = { start: iso(c.grantedAt) };
  // The permission ends at the expiry, or at the revocation if that came first.
  const end = [c.expires || Infinity, c.revokedAt ?? Infinity].reduce((a, b) => Math.min(a, b));
  if (Number.isFinite(end)) period.end = iso(end);
  const provision: Record<string, unknown> = {
    type: 'permit',
    period,
    actor: [
      {
        role: { coding: [{ system: FhirSystem.participationType, code: 'IRCP', display: 'information recipient' }] },
        reference: orgRef(c.grantee, names),
      },
    ],
    action: [{ coding: [{ system: FhirSystem.consentAction, code: 'access', display: 'Access' }] }],
    purpose: [purposeCoding(c.purpose)],
  };
  if (c.scope.types.length > 0)
    provision.class = c.scope.types.map((t) => ({ system: FhirSystem.resourceTypes, code: t }));
  if (c.scope.records.length > 0) {
    provision.data = c.scope.records.map((r) => ({
      meaning: 'instance',
      reference: { identifier: { system: FhirSystem.record, value: r } },
    }));
  }
  return {
    resourceType: 'Consent',
    id: c.id,
    identifier: [{ system: FhirSystem.consent, value: c.id }],
    // FHIR has no "revoked"/"expired" status: a consent no longer in force is inactive.
    status: c.status === 'active' ? 'active' : 'inactive',
    scope: { coding: [{ system: FhirSystem.consentScope, code: 'patient-privacy', display: 'Privacy Consent' }] },
    category: [{ coding: [{ system: FhirSystem.loinc, code: '59284-0', display: 'Patient Consent' }] }],
    patient: { reference: `Patient/${c.patient}` },
    dateTime: iso(c.grantedAt),
    policyRule: { coding: [{ system: FhirSystem.actCode, code: 'OPTIN', display: 'opt-in' }] },
    provision,
  };
}

/**
 * One read as an AuditEvent. A consented read is a DICOM "Patient Record" event; a break-glass
 * read is a DICOM "Security Alert" with subtype "Emergency Override Started", purpose of event
 * and security label ETREAT (HL7 v3 ActReason), and its coded reason with the code's display text.
 */
export function accessEventToFhir(
  e: AccessEventView,
  opts: { chainId: string; names?: ReadonlyMap<string, string> },
): Record<string, unknown> {
  const names = opts.names ?? new Map<string, string>();
  const breakGlass = e.breakGlass !== null;
  // Validation admits only codes; an unknown value is never shown, as it could be free text.
  const code = isBreakGlassReason(e.breakGlass) ? e.breakGlass : null;
  const purpose = breakGlass
    ? {
        coding: [ETREAT, ...(e.purpose === 'emergency' ? [] : [purposeCoding(e.purpose)])],
        text: code ? `break-glass: ${BreakGlassReason[code]}` : 'break-glass',
      }
    : { coding: [purposeCoding(e.purpose)], text: e.purpose };
  const reason = code && {
    coding: [{ system: FhirSystem.breakGlassReason, code, display: BreakGlassReason[code] }, OVERRIDES[code]],
    text: BreakGlassReason[code],
  };
  const read = { system: FhirSystem.restful, code: 'read', display: 'read' };
  const agent: Record<string, unknown> = {
    type: { coding: [{ system: FhirSystem.participationType, code: 'IRCP', display: 'information recipient' }] },
    who: orgRef(e.accessor, names),
    requestor: true,
    purposeOfUse: [purpose],
  };
  if (e.consent !== null) agent.policy = [`${FhirSystem.consent}:${e.consent}`];
  return {
    resourceType: 'AuditEvent',
    id: e.tx,
    ...(breakGlass ? { meta: { security: [ETREAT] } } : {}),
    type: breakGlass
      ? { system: FhirSystem.dicom, code: '110113', display: 'Security Alert' }
      : { system: FhirSystem.dicom, code: '110110', display: 'Patient Record' },
    subtype: breakGlass
      ? [{ system: FhirSystem.dicom, code: '110127', display: 'Emergency Override Started' }, read]
      : [read],
    action: 'R',
    recorded: iso(e.time),
    outcome: '0',
    purposeOfEvent: reason ? [purpose, reason] : [purpose],
    agent: [agent],
    source: {
      site: opts.chainId,
      observer: { display: `MedLedger ${opts.chainId}, block ${e.height}` },
      type: [{ system: FhirSystem.sourceType, code: '4', display: 'Application Server' }],
    },
    entity: [
      {
        what: { reference: `Patient/${e.patient}` },
        type: { system: FhirSystem.entityType, code: '1', display: 'Person' },
        role: { system: FhirSystem.objectRole, code: '1', display: 'Patient' },
      },
      {
        what: { identifier: { system: FhirSystem.record, value: e.record } },
        type: { system: FhirSystem.entityType, code: '2', display: 'System Object' },
        role: { system: FhirSystem.objectRole, code: '4', display: 'Domain Resource' },
      },
    ],
  };
}

export function fhirBundle(resources: readonly Record<string, unknown>[], time: number): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: iso(time),
    entry: resources.map((resource) => ({
      fullUrl: `urn:medledger:${String(resource.resourceType).toLowerCase()}:${String(resource.id)}`,
      resource,
    })),
  };
}

/** Organisation id → name, for `display` in references. */
export async function orgNames(queries: {
  orgs(): Promise<{ id: string; name: string }[]>;
}): Promise<Map<string, string>> {
  return new Map((await queries.orgs()).map((o) => [o.id, o.name]));
}

export function consentsBundle(
  consents: readonly ConsentView[],
  names: ReadonlyMap<string, string>,
  time: number,
): Record<string, unknown> {
  return fhirBundle(
    consents.map((c) => consentToFhir(c, names)),
    time,
  );
}

/** A page of the audit trail; `nextUrl` (when there is a next page) becomes the bundle's `next` link. */
export function auditBundle(
  events: readonly AccessEventView[],
  opts: { chainId: string; names: ReadonlyMap<string, string>; time: number; nextUrl?: string },
): Record<string, unknown> {
  const bundle = fhirBundle(
    events.map((e) => accessEventToFhir(e, opts)),
    opts.time,
  );
  return opts.nextUrl ? { ...bundle, link: [{ relation: 'next', url: opts.nextUrl }] } : bundle;
}
