import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeBlock, encodeHeader, type Block, type Commit } from '@medledger/types';
import { createDatabase, TEST_DATABASE_OPTIONS, type LevelDatabase, type StoredBlock } from '../src/index.js';

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'medledger-db-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A fresh database in a temp dir; `cleanup` closes it and removes the dir. */
export async function openTempDatabase(): Promise<{ db: LevelDatabase; path: string; cleanup(): Promise<void> }> {
  const dir = tempDir();
  const db = createDatabase({ ...TEST_DATABASE_OPTIONS, path: dir.path });
  await db.open();
  return {
    db,
    path: dir.path,
    cleanup: async () => {
      if (db.isOpen) await db.close();
      dir.remove();
    },
  };
}

export const sha256 = (b: Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(b).digest());
export const bytes = (...v: number[]): Uint8Array => new Uint8Array(v);
export const filled = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

export function makeBlock(height: number, txs: Uint8Array[], lastCommit: Commit | null): StoredBlock {
  const block: Block = {
    header: {
      chainId: 'test-chain',
      height,
      round: 0,
      time: 1_700_000_000_000 + height * 1000,
      prevHash: filled(32, height - 1),
      txRoot: filled(32, 7),
      appHash: filled(32, 8),
      validatorsHash: filled(32, 9),
      proposer: filled(20, 1),
      lastCommitHash: filled(32, 0),
    },
    txs,
    lastCommit,
  };
  return { block, hash: sha256(encodeHeader(block.header)), bytes: encodeBlock(block) };
}

export function makeCommit(height: number, blockHash: Uint8Array, signers = 3): Commit {
  return {
    height,
    round: 0,
    blockHash,
    signatures: Array.from({ length: signers }, (_, i) => ({ validator: filled(20, i + 1), signature: filled(64, i) })),
  };
}
