import { MedLedgerError } from '@medledger/types';
import { DbErrorCode } from './errors.js';

export interface DatabaseOptions {
  /** Directory of the LevelDB database (`<home>/data`). */
  path: string;
  createIfMissing: boolean;
  /** LevelDB block cache. */
  cacheSizeBytes: number;
  /** Memtable size before a flush to a level-0 file; bigger absorbs block batches better. */
  writeBufferSizeBytes: number;
  /** Snappy compression of table blocks. */
  compression: boolean;
  maxOpenFiles: number;
}

export const DEFAULT_DATABASE_OPTIONS: Omit<DatabaseOptions, 'path'> = {
  createIfMissing: true,
  cacheSizeBytes: 32 * 1024 * 1024,
  writeBufferSizeBytes: 16 * 1024 * 1024,
  compression: true,
  maxOpenFiles: 1000,
};

/** Small buffers so tests start fast and stay light on a shared machine. */
export const TEST_DATABASE_OPTIONS: Omit<DatabaseOptions, 'path'> = {
  createIfMissing: true,
  cacheSizeBytes: 1024 * 1024,
  writeBufferSizeBytes: 1024 * 1024,
  compression: false,
  maxOpenFiles: 100,
};

export function validateDatabaseOptions(opts: DatabaseOptions): void {
  if (typeof opts.path !== 'string' || opts.path.length === 0) {
    throw new MedLedgerError(DbErrorCode.INVALID_ARGUMENT, 'database path is required', { field: 'path' });
  }
  for (const field of ['cacheSizeBytes', 'writeBufferSizeBytes', 'maxOpenFiles'] as const) {
    const v = opts[field];
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new MedLedgerError(DbErrorCode.INVALID_ARGUMENT, `${field} must be a positive integer`, { field });
    }
  }
}

export interface WalOptions {
  /** fsync each append unless the call says otherwise: a replayable WAL must survive a crash. */
  sync: boolean;
}

export const DEFAULT_WAL_OPTIONS: WalOptions = { sync: true };
