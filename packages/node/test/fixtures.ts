import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { DEFAULT_CHAIN_PARAMS, OrgKind, toHex, type Genesis } from '@medledger/types';
import { generateKeyPair, Signer, type Ed25519KeyPair } from '@medledger/crypto';
import { createBlockStore, createDatabase, type Database, type WriteBatch } from '@medledger/db';
import { createStateMachine } from '@medledger/state';
import { createApiServer, type ApiContext } from '../src/api/index.js';
import { Chain } from '../src/chain/chain.js';
import { VerifiedTxCache } from '../src/chain/verified-txs.js';
import { Mempool } from '../src/mempool/mempool.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics.js';

interface LedgerKeys {
  orgKey: Ed25519KeyPair;
  otherOrgKey: Ed25519KeyPair;
  nodeKeys: Ed25519KeyPair[];
}

const makeTempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `medledger-node-${prefix}-`));

/** A scratch directory removed when the test `t` ends. */
export function tempDir(t: TestContext, prefix: string): string {
  const dir = makeTempDir(prefix);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The API server over a hand-made context that has only what a test's routes touch. */
export const apiServerOver = (ctx: object) =>
  createApiServer(
    { bodyLimitBytes: 1024 * 1024, commitWaitMs: 1000 },
    ctx as ApiContext,
    createLogger({ level: 'error', name: 'api-test', stdout: false }),
  );

/**
 * A real one-validator ledger on LevelDB in a temp dir: chain, state and mempool wired as the node
 * does. `close()` closes the database and removes the dir: a ledger may be shared by the tests of a
 * file, so the caller closes it (in a `finally` or the file's `after`), not a per-test hook here.
 */
export async function createLedger(
  opts: {
    validators?: number;
    maxPerAccount?: number;
    maxTxs?: number;
    sameChainAs?: LedgerKeys;
    /** Sees every batch the chain creates (to check what becomes of it). */
    onBatch?: (batch: WriteBatch) => void;
  } = {},
) {
  const { orgKey, otherOrgKey, nodeKeys } = opts.sameChainAs ?? {
    orgKey: generateKeyPair(),
    otherOrgKey: generateKeyPair(),
    nodeKeys: Array.from({ length: opts.validators ?? 1 }, () => generateKeyPair()),
  };
  const genesis: Genesis = {
    chainId: 'unit-chain',
    genesisTime: 1_700_000_000_000,
    params: { ...DEFAULT_CHAIN_PARAMS },
    orgs: [
      {
        id: 'hospital-a',
        name: 'Hospital A',
        kind: OrgKind.Hospital,
        orgKey: toHex(orgKey.publicKey),
        encKey: '',
        nodeKeys: nodeKeys.map((k) => toHex(k.publicKey)),
      },
      {
        id: 'hospital-b',
        name: 'Hospital B',
        kind: OrgKind.Hospital,
        orgKey: toHex(otherOrgKey.publicKey),
        encKey: '',
        nodeKeys: [],
      },
    ],
    validators: nodeKeys.map((k, i) => ({ pubKey: toHex(k.publicKey), org: 'hospital-a', name: `v${i}` })),
  };
  const dir = makeTempDir('db');
  const db = createDatabase({ path: join(dir, 'ledger') });
  try {
    await db.open();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const blocks = createBlockStore({ db });
  const state = createStateMachine({ genesis }, { db });
  const verified = new VerifiedTxCache();
  const logger = createLogger({ level: 'error', name: 'unit', stdout: false });
  const metrics = createMetrics();
  const chainDb: Database = opts.onBatch ? withBatchHook(db, opts.onBatch) : db;
  const chain = new Chain({ genesis }, { db: chainDb, blocks, state, verified, logger, metrics });
  await chain.init();
  const mempool = new Mempool(
    {
      maxTxs: opts.maxTxs ?? 1000,
      maxBytes: 1 << 20,
      maxPerAccount: opts.maxPerAccount ?? 100,
      chainId: genesis.chainId,
    },
    { state, verified },
  );
  return {
    genesis,
    db,
    blocks,
    state,
    chain,
    mempool,
    metrics,
    org: new Signer(orgKey.secretKey),
    otherOrg: new Signer(otherOrgKey.secretKey),
    validators: nodeKeys.map((k) => new Signer(k.secretKey)),
    /** Another ledger of the same chain takes these (`sameChainAs`). */
    keys: { orgKey, otherOrgKey, nodeKeys },
    close: async () => {
      try {
        await db.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

function withBatchHook(db: Database, onBatch: (batch: WriteBatch) => void): Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'createBatch') {
        return () => {
          const batch = target.createBatch();
          onBatch(batch);
          return batch;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
