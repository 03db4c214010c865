import { shapeError } from './errors.js';

/** Small shape assertions shared by every decoder; each names the field that failed. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function assertRecord(v: unknown, field: string): Record<string, unknown> {
  if (!isRecord(v)) throw shapeError(field, 'a map');
  return v;
}

export function assertKeys(v: Record<string, unknown>, allowed: readonly string[], field: string): void {
  // Names the fields allowed, not the one found: a client's key is client input, never echoed.
  for (const k of Object.keys(v)) if (!allowed.includes(k)) throw shapeError(field, `only ${allowed.join(', ')}`);
}

export function assertBytes(v: unknown, field: string, length?: number): Uint8Array {
  if (!(v instanceof Uint8Array)) throw shapeError(field, length ? `${length} bytes` : 'bytes');
  if (length !== undefined && v.length !== length) throw shapeError(field, `${length} bytes`);
  return v;
}

export function assertUint(v: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) {
    throw shapeError(field, `an integer in [0, ${max}]`);
  }
  return v;
}

export function assertInt(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw shapeError(field, `an integer in [${min}, ${max}]`);
  }
  return v;
}

export function assertString(v: unknown, field: string, maxLength: number, pattern?: RegExp): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength) {
    throw shapeError(field, `a non-empty string of at most ${maxLength} characters`);
  }
  if (pattern && !pattern.test(v)) throw shapeError(field, `a string matching ${pattern.source}`);
  return v;
}

export function assertArray(v: unknown, field: string, maxLength: number): unknown[] {
  if (!Array.isArray(v) || v.length > maxLength) throw shapeError(field, `a list of at most ${maxLength}`);
  return v;
}

export function assertBool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw shapeError(field, 'a boolean');
  return v;
}

/** Random identifiers on chain: 16 bytes as 32 lowercase hex characters. They reveal nothing. */
export const ID_RE = /^[0-9a-f]{32}$/;
/** Organisation ids: short public slugs. */
export const ORG_ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** FHIR resource type names (e.g. Observation, DiagnosticReport). */
export const FHIR_TYPE_RE = /^[A-Z][A-Za-z]{1,63}$/;
/** The latest instant a JavaScript `Date` holds (±100,000,000 days around the epoch), in ms. */
export const MAX_TIME_MS = 8_640_000_000_000_000;
