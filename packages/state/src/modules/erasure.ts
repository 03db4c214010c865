import {
  assertBytes,
  assertRecord,
  assertString,
  assertUint,
  decodeCanonical,
  toHex,
  type RecordErasePayload,
} from '@medledger/types';
import { TxCode } from '../interface.js';
import { fail, ok, type StateReader, type TxHandler } from '../context.js';
import { encodeEntry } from '../entities.js';
import { StateErrorCode, stateError } from '../errors.js';
import { erasureKey } from '../keys.js';
import { controlsPatient, readPatient } from './patients.js';
import { readRecord } from './records.js';

/**
 * Erasure (crypto-shredding, ADR 0006): the patient (or the custodian of a patient without an
 * account) asks for a record's document to be destroyed. The state only marks the record
 * erased; the record itself (hash, size, author, time) stays, so history is never rewritten.
 * Each node's document store reacts to the committed mark by deleting the ciphertext and its
 * wrapped keys, and every later read is refused with ERASED.
 */
export interface ErasureEntry {
  record: string;
  patient: string;
  erasedAt: number;
  height: number;
  tx: Uint8Array;
}

export interface ErasureView {
  record: string;
  erasedAt: number;
  height: number;
  tx: string;
}

export const eraseRecord: TxHandler<'record.erase'> = (ctx, p: RecordErasePayload) => {
  const record = readRecord(ctx.store, p.record);
  if (!record) return fail(TxCode.NotFound, 'record not found');
  const patient = readPatient(ctx.store, record.patient);
  if (!patient || !controlsPatient(ctx, patient)) {
    return fail(TxCode.Unauthorized, 'erasure is requested by the patient account, or the custodian without one');
  }
  const key = erasureKey(p.record);
  if (ctx.store.has(key)) return fail(TxCode.AlreadyExists, 'record already erased');
  const entry: ErasureEntry = {
    record: record.id,
    patient: record.patient,
    erasedAt: ctx.time,
    height: ctx.height,
    tx: ctx.txHash,
  };
  ctx.store.put(key, encodeEntry(entry));
  return ok();
};

export function readErasure(store: StateReader, record: string): ErasureEntry | undefined {
  const bytes = store.get(erasureKey(record));
  return bytes === undefined ? undefined : decodeErasure(bytes);
}

export function decodeErasure(bytes: Uint8Array): ErasureEntry {
  try {
    const v = assertRecord(decodeCanonical(bytes), 'erasure');
    return {
      record: assertString(v.record, 'record', 32),
      patient: assertString(v.patient, 'patient', 32),
      erasedAt: assertUint(v.erasedAt, 'erasedAt'),
      height: assertUint(v.height, 'height'),
      tx: assertBytes(v.tx, 'tx', 32),
    };
  } catch (err) {
    throw stateError(StateErrorCode.CORRUPT, `stored erasure does not decode: ${(err as Error).message}`);
  }
}

export function erasureView(e: ErasureEntry): ErasureView {
  return { record: e.record, erasedAt: e.erasedAt, height: e.height, tx: toHex(e.tx) };
}
