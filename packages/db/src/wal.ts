import {
  closeSync,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { syncDirectoryOf } from '@medledger/crypto';
import type { ConsensusWal } from './interface.js';
import { DbErrorCode, dbError } from './errors.js';
import { DEFAULT_WAL_OPTIONS, type WalOptions } from './options.js';

/** Per record: entry length (u32 BE), CRC-32 of the entry (u32 BE), then the entry. */
const RECORD_HEADER = 8;
const FILE_NAME = /^(\d{16})\.wal$/;
const fileName = (height: number): string => `${String(height).padStart(16, '0')}.wal`;

interface OpenFile {
  fd: number;
  /** Entries in the file: the next one's sequence. */
  entries: number;
  /** The file's directory entry is on disk (fsynced once, with the first synced append). */
  durable: boolean;
}

/**
 * The consensus WAL (ADR 0002): one append-only file per height in its own directory. Appends
 * are synchronous: a vote is on disk before the call returns, without a trip through the event
 * loop or the database's write queue. That trip cost a loaded node 40–150 ms per own message
 * when the WAL lived in LevelDB, on the critical path of every height (ADR 0008, sixth round).
 * A crash mid-append leaves a torn last record; its length or CRC does not match, and reading
 * stops there. So does a zero-filled tail, which some filesystems leave after a power loss: no
 * record is empty. An append that fails (a full disk) throws, so nothing is published on a
 * record that is not there, and the next append cuts the file back to its whole records.
 * Pruning a height deletes its file.
 */
export class FileConsensusWal implements ConsensusWal {
  readonly #dir: string;
  readonly #opts: WalOptions;
  readonly #open = new Map<number, OpenFile>();

  constructor(opts: Partial<WalOptions> & { dir: string }) {
    this.#dir = opts.dir;
    this.#opts = { ...DEFAULT_WAL_OPTIONS, ...opts };
    mkdirSync(this.#dir, { recursive: true });
  }

  async append(height: number, entry: Uint8Array, opts: { sync?: boolean } = {}): Promise<number> {
    assertHeight(height);
    if (entry.length === 0) throw dbError(DbErrorCode.INVALID_ARGUMENT, 'a WAL entry cannot be empty', { height });
    const file = this.#file(height);
    const record = Buffer.allocUnsafe(RECORD_HEADER + entry.length);
    record.writeUInt32BE(entry.length, 0);
    record.writeUInt32BE(crc32(entry), 4);
    record.set(entry, RECORD_HEADER);
    try {
      // A write to a file may be short (a full disk); the rest follows or the next write throws.
      for (let at = 0; at < record.length;) at += writeSync(file.fd, record, at);
      if (opts.sync ?? this.#opts.sync) {
        fdatasyncSync(file.fd);
        if (!file.durable) {
          syncDirectoryOf(join(this.#dir, fileName(height)));
          file.durable = true;
        }
      }
    } catch (err) {
      // Later appends must not land behind a torn record, where reading stops: the next one
      // reopens the file, which cuts it back to its whole records.
      closeSync(file.fd);
      this.#open.delete(height);
      throw dbError(DbErrorCode.WRITE_FAILED, `cannot append to the consensus WAL of height ${height}`, {
        height,
        reason: (err as Error).message,
      });
    }
    return file.entries++;
  }

  async *entries(height: number): AsyncGenerator<Uint8Array> {
    assertHeight(height);
    yield* this.#read(height).entries;
  }

  async latestHeight(): Promise<number | undefined> {
    for (const height of this.#heights().reverse()) if (this.#read(height).entries.length > 0) return height;
    return undefined;
  }

  async prune(belowHeight: number): Promise<number> {
    assertHeight(belowHeight);
    let deleted = 0;
    for (const height of this.#heights()) {
      if (height >= belowHeight) break;
      // A height appended to since start knows its count; only older files are read for it.
      const open = this.#open.get(height);
      deleted += open ? open.entries : this.#read(height).entries.length;
      if (open) closeSync(open.fd);
      this.#open.delete(height);
      rmSync(join(this.#dir, fileName(height)), { force: true });
    }
    return deleted;
  }

  /** Closes the open files; appends after this reopen them. */
  close(): void {
    for (const { fd } of this.#open.values()) closeSync(fd);
    this.#open.clear();
  }

  #file(height: number): OpenFile {
    let file = this.#open.get(height);
    if (!file) {
      // After a restart: continue the height's sequence, writing over a torn last record.
      const { entries, validBytes } = this.#read(height);
      const fd = openSync(join(this.#dir, fileName(height)), 'a');
      ftruncateSync(fd, validBytes);
      file = { fd, entries: entries.length, durable: false };
      this.#open.set(height, file);
    }
    return file;
  }

  #heights(): number[] {
    return readdirSync(this.#dir)
      .flatMap((name) => {
        const m = FILE_NAME.exec(name);
        return m ? [Number(m[1])] : [];
      })
      .sort((a, b) => a - b);
  }

  /** The valid entries of a height, up to the first torn or damaged record, and their size. */
  #read(height: number): { entries: Uint8Array[]; validBytes: number } {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(this.#dir, fileName(height)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], validBytes: 0 };
      throw dbError(DbErrorCode.READ_FAILED, `cannot read the consensus WAL of height ${height}`, { height });
    }
    const entries: Uint8Array[] = [];
    let at = 0;
    while (at + RECORD_HEADER <= bytes.length) {
      const length = bytes.readUInt32BE(at);
      const end = at + RECORD_HEADER + length;
      if (length === 0 || end > bytes.length) break;
      const entry = bytes.subarray(at + RECORD_HEADER, end);
      if (crc32(entry) !== bytes.readUInt32BE(at + 4)) break;
      entries.push(new Uint8Array(entry));
      at = end;
    }
    return { entries, validBytes: at };
  }
}

function assertHeight(height: number): void {
  if (!Number.isSafeInteger(height) || height < 0) {
    throw dbError(DbErrorCode.INVALID_ARGUMENT, 'WAL height must be a non-negative integer', { height });
  }
}

export function createConsensusWal(opts: Partial<WalOptions> & { dir: string }): FileConsensusWal {
  return new FileConsensusWal(opts);
}
