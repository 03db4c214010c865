import { MedLedgerError } from '@medledger/types';

export const DbErrorCode = {
  /** The database is not open (not yet opened, or closed). */
  NOT_OPEN: 'DB_NOT_OPEN',
  /** Another process holds the database lock: a second node on the same data directory. */
  LOCKED: 'DB_LOCKED',
  OPEN_FAILED: 'DB_OPEN_FAILED',
  READ_FAILED: 'DB_READ_FAILED',
  WRITE_FAILED: 'DB_WRITE_FAILED',
  /** A batch made by another Database instance was passed to `write`. */
  FOREIGN_BATCH: 'DB_FOREIGN_BATCH',
  /** A batch was written twice. */
  BATCH_WRITTEN: 'DB_BATCH_WRITTEN',
  /** Stored bytes do not decode: the data directory is damaged or from an incompatible version. */
  CORRUPT: 'DB_CORRUPT',
  INVALID_ARGUMENT: 'DB_INVALID_ARGUMENT',
} as const;
export type DbErrorCode = (typeof DbErrorCode)[keyof typeof DbErrorCode];

export function dbError(code: DbErrorCode, message: string, meta: Record<string, unknown> = {}): MedLedgerError {
  return new MedLedgerError(code, message, meta);
}
