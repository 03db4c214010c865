import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BREAK_GLASS_REASONS,
  BreakGlassReason,
  decodeDocRequest,
  encodeDocRequest,
  MedLedgerError,
  PURPOSES,
  Purpose,
  TxType,
  validatePayload,
  type DocRequest,
} from '../src/index.js';

// No patient data in the clear on chain: a break-glass reason is one of a few codes, never free text.
const FREE_TEXT = 'John Doe unconscious after overdose';

const request = (breakGlass: string | null): DocRequest => ({
  chainId: 'test-chain',
  record: 'ab'.repeat(16),
  purpose: 'emergency',
  breakGlass,
  time: 1_700_000_000_000,
  nonce: new Uint8Array(16).fill(3),
  from: new Uint8Array(32).fill(1),
  signature: new Uint8Array(64).fill(2),
});

/** A shape error naming `field` and listing the codes, without the value given. */
const refused =
  (field: string, codes: readonly string[] = BREAK_GLASS_REASONS) =>
  (e: unknown) => {
    assert.ok(e instanceof MedLedgerError);
    assert.equal(e.code, 'INVALID_SHAPE');
    assert.equal(e.message, `${field}: expected one of ${codes.join(', ')}`);
    assert.doesNotMatch(e.message, /John|Doe|overdose/);
    return true;
  };

test('every break-glass reason code has a display text', () => {
  assert.ok(BREAK_GLASS_REASONS.length > 0);
  for (const code of BREAK_GLASS_REASONS) {
    assert.match(code, /^[a-z][a-z-]*$/);
    assert.ok(BreakGlassReason[code].length > 0);
  }
});

test('a document request decodes with a reason code or none, and refuses free text', () => {
  for (const code of [...BREAK_GLASS_REASONS, null]) {
    assert.equal(decodeDocRequest(encodeDocRequest(request(code))).breakGlass, code);
  }
  for (const bad of [FREE_TEXT, 'Unconscious', 'toString', '']) {
    assert.throws(() => decodeDocRequest(encodeDocRequest(request(bad))), refused('request.breakGlass'));
  }
});

test('access.log accepts a reason code and refuses a free-text reason', () => {
  const payload = (breakGlass: string) => ({
    record: 'ab'.repeat(16),
    purpose: 'emergency',
    consent: null,
    breakGlass,
  });
  for (const code of BREAK_GLASS_REASONS) validatePayload(TxType.AccessLog, payload(code));
  assert.throws(() => validatePayload(TxType.AccessLog, payload(FREE_TEXT)), refused('payload.breakGlass'));
});

test('a purpose is one of the HL7 purpose-of-use codes, in consents, access logs and requests', () => {
  for (const p of PURPOSES) assert.match(Purpose[p].code, /^[A-Z]+$/);
  const grant = (purpose: string) => ({
    consent: 'cd'.repeat(16),
    patient: 'ef'.repeat(16),
    grantee: 'lab-b',
    scope: { types: ['Observation'], records: [] },
    purpose,
    expires: 0,
  });
  const log = (purpose: string) => ({ record: 'ab'.repeat(16), purpose, consent: 'cd'.repeat(16), breakGlass: null });
  for (const p of PURPOSES) {
    validatePayload(TxType.ConsentGrant, grant(p));
    validatePayload(TxType.AccessLog, log(p));
    assert.equal(decodeDocRequest(encodeDocRequest({ ...request(null), purpose: p })).purpose, p);
  }
  // A slug was enough to write a name or a diagnosis on chain.
  for (const bad of ['john-doe-hiv', 'Treatment', 'constructor', '']) {
    assert.throws(() => validatePayload(TxType.ConsentGrant, grant(bad)), refused('payload.purpose', PURPOSES));
    assert.throws(() => validatePayload(TxType.AccessLog, log(bad)), refused('payload.purpose', PURPOSES));
    assert.throws(
      () => decodeDocRequest(encodeDocRequest({ ...request(null), purpose: bad })),
      refused('request.purpose', PURPOSES),
    );
  }
});
