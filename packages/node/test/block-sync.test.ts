import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair } from '@medledger/crypto';
import { createNetwork, testNetworkOptions, type Libp2pNetwork } from '@medledger/network';
import { encodeCanonical, toHex } from '@medledger/types';
import { BlockSync, DEFAULT_SYNC_OPTIONS } from '../src/sync/index.js';
import { createLogger } from '../src/logger.js';
import { createLedger } from './fixtures.js';

// A real ledger (LevelDB, chain) and a peer over real libp2p that claims a height far ahead of
// it and never serves a block: a member with a bug, or lying.
const logger = createLogger({ level: 'error', name: 'block-sync-test', stdout: false });
const STATUS = '/medledger/unit-chain/status/1';
const SYNC = '/medledger/unit-chain/sync/1';
const cleanup: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function network(key: ReturnType<typeof generateKeyPair>, allowed: string[], bootstrap: string[]) {
  const net: Libp2pNetwork = createNetwork(
    { ...testNetworkOptions, nodeKey: key.secretKey, listen: '/ip4/127.0.0.1/tcp/0', bootstrap, allowedKeys: allowed },
    { logger },
  );
  await net.start();
  cleanup.push(() => net.stop());
  return net;
}

test('a peer that claims to be ahead and serves nothing is left out of catch-up for a while', async () => {
  const ledger = await createLedger();
  cleanup.push(() => ledger.close());
  const keyA = generateKeyPair();
  const keyLiar = generateKeyPair();
  const allowed = [toHex(keyA.publicKey), toHex(keyLiar.publicKey)];
  const liar = await network(keyLiar, allowed, []);
  const limits = { maxRequestBytes: 64, maxResponseBytes: 128, requestsPerSecond: 50 };
  let syncRequests = 0;
  await liar.handle(STATUS, async () => encodeCanonical([1_000_000, new Uint8Array(32)]), limits);
  await liar.handle(
    SYNC,
    (_req, _from, signal) => {
      syncRequests++;
      // Never answers: the requester's timeout ends it.
      return new Promise<Uint8Array>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    },
    { ...limits, maxResponseBytes: DEFAULT_SYNC_OPTIONS.maxResponseBytes },
  );
  const net = await network(keyA, allowed, liar.listenAddrs());
  const deadline = Date.now() + 10_000;
  while (net.connectedPeers().length === 0) {
    if (Date.now() > deadline) throw new Error('peers did not connect');
    await new Promise((r) => setTimeout(r, 20));
  }
  const sync = new BlockSync(
    {
      syncProtocol: SYNC,
      statusProtocol: STATUS,
      batchBlocks: 16,
      maxResponseBytes: DEFAULT_SYNC_OPTIONS.maxResponseBytes,
      // The liar counts a request once it arrives: a deadline that a loaded machine can pass
      // before then would leave the count at 0 (or raise it after the assertion below).
      requestTimeoutMs: 2000,
      verifyTxSignatures: false,
    },
    { network: net, chain: ledger.chain, blocks: ledger.blocks, logger, metrics: ledger.metrics, onApplied: () => {} },
  );

  assert.deepEqual(
    (await sync.peerStatuses()).map((s) => s.height),
    [1_000_000],
  );
  assert.equal(await sync.catchUp('test'), 0);
  assert.equal(syncRequests, 1);
  // Its claim no longer starts a catch-up: no status asked, no request sent.
  assert.deepEqual(await sync.peerStatuses(), []);
  assert.equal(await sync.catchUp('test again'), 0);
  assert.equal(syncRequests, 1);
});
