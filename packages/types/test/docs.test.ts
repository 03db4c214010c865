import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BREAK_GLASS_REASONS,
  BreakGlassReason,
  decodeDocRequest,
  encodeDocRequest,
  MedLedgerError,
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
const refused = (field: string) => (e: unknown) => {
  assert.ok(e instanceof MedLedgerError);
  assert.equal(e.code, 'INVALID_SHAPE');
  assert.equal(e.message, `${field}: expected one of ${BREAK_GLASS_REASONS.join(', ')}`);
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
