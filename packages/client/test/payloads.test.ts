import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BREAK_GLASS_REASONS, MedLedgerError, PURPOSES, toHex } from '@medledger/types';
import { sha256 } from '@medledger/crypto';
import {
  createAccessLogPayload,
  createConsentGrantPayload,
  createConsentRevokePayload,
  createPatientRegisterPayload,
  createRecordAnchorPayload,
  parseTime,
  randomId,
} from '../src/index.js';

/** Matches a MedLedgerError with `code` whose message names `field`. */
const fails = (code: string, field?: string) => (e: unknown) =>
  e instanceof MedLedgerError && e.code === code && (field === undefined || e.message.includes(field));

const patient = randomId();

test('patient register fills a random id and converts hex keys', () => {
  const p = createPatientRegisterPayload();
  assert.match(p.patient, /^[0-9a-f]{32}$/);
  assert.equal(p.account, null);
  assert.equal(p.encKey, null);
  const key = 'AB'.repeat(32);
  assert.deepEqual(createPatientRegisterPayload({ encKey: key }).encKey, new Uint8Array(32).fill(0xab));
  assert.throws(() => createPatientRegisterPayload({ patient: 'alice' }), fails('INVALID_SHAPE', 'payload.patient'));
  assert.throws(() => createPatientRegisterPayload({ account: 'abcd' }), fails('INVALID_SHAPE', 'payload.account'));
  assert.throws(() => createPatientRegisterPayload({ encKey: 'zz'.repeat(32) }), fails('INVALID_SHAPE', 'encKey'));
});

test('a record anchor carries a 32-byte content hash and a size, checked', () => {
  assert.throws(
    () =>
      createRecordAnchorPayload({
        patient,
        resourceType: 'observation',
        contentHash: sha256('x'),
        size: 1,
      }),
    fails('INVALID_SHAPE', 'payload.resourceType'),
  );
  assert.throws(
    () =>
      createRecordAnchorPayload({
        patient,
        resourceType: 'Observation',
        contentHash: toHex(new Uint8Array(31)),
        size: 1,
      }),
    fails('INVALID_SHAPE', 'payload.contentHash'),
  );
  assert.throws(
    () => createRecordAnchorPayload({ patient, resourceType: 'Observation', contentHash: sha256('x'), size: -1 }),
    fails('INVALID_SHAPE', 'payload.size'),
  );
  assert.throws(
    () =>
      createRecordAnchorPayload({
        patient,
        resourceType: 'Observation',
        contentHash: sha256('x'),
        size: 1,
        previous: 'v1',
      }),
    fails('INVALID_SHAPE', 'payload.previous'),
  );
});

test('consent grant needs a scope, a valid grantee and purpose, and takes ISO or ms expiry', () => {
  const base = { patient, grantee: 'st-mary', purpose: 'treatment' };
  const p = createConsentGrantPayload({ ...base, types: ['Observation'], expires: '2030-01-01T00:00:00Z' });
  assert.equal(p.expires, Date.UTC(2030, 0, 1));
  assert.deepEqual(p.scope, { types: ['Observation'], records: [] });
  assert.equal(createConsentGrantPayload({ ...base, records: [randomId()] }).expires, 0);
  assert.throws(() => createConsentGrantPayload(base), fails('INVALID_SHAPE', 'payload.scope'));
  assert.throws(
    () => createConsentGrantPayload({ ...base, grantee: 'St Mary', types: ['Observation'] }),
    fails('INVALID_SHAPE', 'payload.grantee'),
  );
  assert.throws(
    () => createConsentGrantPayload({ ...base, purpose: 'Treatment!', types: ['Observation'] }),
    fails('INVALID_ARGUMENT', 'purpose'),
  );
  assert.throws(
    () => createConsentGrantPayload({ ...base, types: ['Observation'], expires: 'next week' }),
    fails('INVALID_ARGUMENT', 'expires'),
  );
  // Every expiry the chain takes is a date each view can print: the last one a Date holds.
  const last = 8_640_000_000_000_000;
  assert.equal(
    new Date(createConsentGrantPayload({ ...base, types: ['Observation'], expires: last }).expires).getTime(),
    last,
  );
  assert.throws(
    () => createConsentGrantPayload({ ...base, types: ['Observation'], expires: last + 1 }),
    fails('INVALID_SHAPE', 'payload.expires'),
  );
});

test('consent revoke and access log check their fields', () => {
  assert.throws(() => createConsentRevokePayload({ consent: '' }), fails('INVALID_SHAPE', 'payload.consent'));
  const record = randomId();
  assert.equal(createAccessLogPayload({ record, purpose: 'treatment', consent: randomId() }).breakGlass, null);
  assert.equal(createAccessLogPayload({ record, purpose: 'treatment', breakGlass: 'unconscious' }).consent, null);
  assert.throws(() => createAccessLogPayload({ record, purpose: 'treatment' }), fails('INVALID_SHAPE'));
  assert.throws(
    () => createAccessLogPayload({ record, purpose: 'treatment', consent: randomId(), breakGlass: 'unconscious' }),
    fails('INVALID_SHAPE'),
  );
});

test('a break-glass reason is a code: free text is refused, naming the field and the codes, not the value', () => {
  const record = randomId();
  const refused = (e: unknown) => {
    assert.ok(fails('INVALID_ARGUMENT', 'breakGlass: expected one of unconscious, life-threatening,')(e));
    assert.doesNotMatch((e as Error).message, /John|Doe|overdose/);
    return true;
  };
  const freeText = 'John Doe unconscious after overdose';
  assert.throws(() => createAccessLogPayload({ record, purpose: 'emergency', breakGlass: freeText }), refused);
  assert.throws(() => createAccessLogPayload({ record, purpose: 'emergency', breakGlass: 'Unconscious' }), refused);
  assert.throws(() => createAccessLogPayload({ record, purpose: 'emergency', breakGlass: 'toString' }), refused);
  for (const code of BREAK_GLASS_REASONS) {
    assert.equal(createAccessLogPayload({ record, purpose: 'emergency', breakGlass: code }).breakGlass, code);
  }
});

test('a purpose is a purpose-of-use code: a slug that could carry a name is refused before signing', () => {
  const record = randomId();
  const refused = (e: unknown) => {
    assert.ok(fails('INVALID_ARGUMENT', 'purpose: expected one of treatment, emergency,')(e));
    assert.doesNotMatch((e as Error).message, /john|hiv/);
    return true;
  };
  const grant = (purpose: string) =>
    createConsentGrantPayload({ patient, grantee: 'lab-b', types: ['Observation'], purpose });
  assert.throws(() => grant('john-doe-hiv'), refused);
  assert.throws(() => createAccessLogPayload({ record, purpose: 'john-doe-hiv', consent: randomId() }), refused);
  for (const p of PURPOSES) assert.equal(grant(p).purpose, p);
});

test('parseTime takes ms, digit strings, Dates and ISO dates, and nothing else', () => {
  assert.equal(parseTime(5), 5);
  assert.equal(parseTime('1700000000000'), 1_700_000_000_000);
  assert.equal(parseTime(new Date(42)), 42);
  assert.equal(parseTime('2024-02-29'), Date.UTC(2024, 1, 29));
  for (const bad of ['yesterday', '12/01/2024', '2024-13-45', '', -1, 1.5]) {
    assert.throws(() => parseTime(bad, 'since'), fails('INVALID_ARGUMENT', 'since'));
  }
});
