/**
 * The one error base class of the project. Every subsystem throws a MedLedgerError (or a
 * subclass) with a stable machine-readable `code`; the HTTP API and the CLI surface that code.
 * `meta` carries structured detail for logs. It must never hold key material or document content.
 */
export class MedLedgerError extends Error {
  readonly code: string;
  readonly meta: Record<string, unknown>;

  constructor(code: string, message: string, meta: Record<string, unknown> = {}) {
    super(message);
    this.name = 'MedLedgerError';
    this.code = code;
    this.meta = meta;
  }
}

export function isMedLedgerError(err: unknown): err is MedLedgerError {
  return err instanceof MedLedgerError;
}

/** Error codes for shapes, encoding and genesis; other packages define their own in their errors.ts. */
export const TypesErrorCode = {
  ENCODING: 'ENCODING_INVALID',
  NON_CANONICAL: 'ENCODING_NON_CANONICAL',
  INVALID_SHAPE: 'INVALID_SHAPE',
  UNKNOWN_TX_TYPE: 'UNKNOWN_TX_TYPE',
  TOO_LARGE: 'TOO_LARGE',
  /** A genesis that parses but cannot start a chain (no validators). */
  GENESIS_INVALID: 'GENESIS_INVALID',
} as const;

export function shapeError(field: string, expected: string): MedLedgerError {
  return new MedLedgerError(TypesErrorCode.INVALID_SHAPE, `${field}: expected ${expected}`, { field });
}
