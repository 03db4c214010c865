import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, sha256, signTx, type Ed25519KeyPair, type Signer } from '@medledger/crypto';
import { createNetwork, testNetworkOptions, type Libp2pNetwork } from '@medledger/network';
import { MedLedgerError, TxType, VoteType, encodeCanonical, encodeTx, toHex, voteSignBytes } from '@medledger/types';
import { DEFAULT_TX_RELAY_OPTIONS } from '../src/mempool/options.js';
import { TxRelay } from '../src/mempool/relay.js';
import { createLogger } from '../src/logger.js';
import { createLedger } from './fixtures.js';

// Two real ledgers (LevelDB, state, mempool) joined by real libp2p over loopback TCP.
const PROTOCOL = '/medledger/unit-chain/txs/1';
const logger = createLogger({ level: 'error', name: 'relay-test', stdout: false });

type Ledger = Awaited<ReturnType<typeof createLedger>>;
interface Side {
  ledger: Ledger;
  net: Libp2pNetwork;
  relay: TxRelay;
}

const register = (signer: Signer, nonce: number) =>
  signTx(signer, {
    chainId: 'unit-chain',
    type: TxType.PatientRegister,
    nonce,
    payload: { patient: nonce.toString(16).padStart(32, '0'), account: null, encKey: null },
  });

async function side(ledger: Ledger, key: Ed25519KeyPair, allowed: Ed25519KeyPair[], bootstrap: string[]) {
  const net = createNetwork(
    {
      ...testNetworkOptions,
      nodeKey: key.secretKey,
      listen: '/ip4/127.0.0.1/tcp/0',
      bootstrap,
      allowedKeys: allowed.map((k) => toHex(k.publicKey)),
    },
    { logger },
  );
  await net.start();
  const relay = new TxRelay(
    { protocol: PROTOCOL, ...DEFAULT_TX_RELAY_OPTIONS },
    { network: net, mempool: ledger.mempool, logger, metrics: ledger.metrics },
  );
  await relay.start();
  return { ledger, net, relay };
}

/** A counter's value for these labels (0 before its first increment). */
async function count(metric: { get(): Promise<{ values: { value: number; labels: object }[] }> }, labels = {}) {
  return (await metric.get()).values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value ?? 0;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let a: Side;
let b: Side;
const keyA = generateKeyPair();
const keyB = generateKeyPair();

// Closed (and their directories removed) in `after`, even when `before` stops half-way.
const ledgers: Ledger[] = [];

before(async () => {
  const ledgerA = await createLedger({ maxPerAccount: 1000 });
  ledgers.push(ledgerA);
  const ledgerB = await createLedger({ maxPerAccount: 1000, sameChainAs: ledgerA.keys });
  ledgers.push(ledgerB);
  a = await side(ledgerA, keyA, [keyA, keyB], []);
  // Txs A took before B connected reach B when it does.
  for (let n = 1; n <= 5; n++) a.relay.broadcast(a.ledger.mempool.add(register(a.ledger.org, n).bytes));
  b = await side(ledgerB, keyB, [keyA, keyB], a.net.listenAddrs());
  await waitFor('A and B connected', () => a.net.connectedPeers().length === 1 && b.net.connectedPeers().length === 1);
});

after(async () => {
  for (const s of [a, b]) {
    s?.relay.stop();
    await s?.net.stop();
  }
  for (const l of ledgers) await l.close();
});

test('a newly connected peer gets the pool, then every tx the API takes, in nonce order', async () => {
  a.relay.syncPeers(); // the node calls this on its peer-check tick
  await waitFor('the 5 pooled txs at B', () => b.ledger.mempool.size === 5);
  for (let n = 6; n <= 300; n++) a.relay.broadcast(a.ledger.mempool.add(register(a.ledger.org, n).bytes));
  await waitFor('all 300 txs at B', () => b.ledger.mempool.size === 300);
  const reaped = b.ledger.mempool.reap(1000, Number.MAX_SAFE_INTEGER).map((e) => e.tx.nonce);
  assert.deepEqual(
    reaped,
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  // The counters an operator watches: each tx sent once, taken once, one resync for the newcomer.
  // A counts a batch sent when B's answer arrives, which can be after B pooled it.
  await waitFor("A to count B's answers", async () => (await count(a.ledger.metrics.relayTxsSent)) >= 300);
  assert.equal(await count(a.ledger.metrics.relayTxsSent), 300);
  assert.equal(await count(b.ledger.metrics.relayTxsReceived, { result: 'added' }), 300);
  assert.equal(await count(b.ledger.metrics.relayTxsReceived, { result: 'known' }), 0);
  assert.equal(await count(a.ledger.metrics.relayResyncs, { reason: 'connected' }), 1);
});

test("an own tx is proposable once the peer holds it; an account's later nonces wait with it", async () => {
  const proposable = () =>
    a.ledger.mempool.reap(1000, Number.MAX_SAFE_INTEGER, (e) => a.relay.delivered(e.hashHex)).map((e) => e.tx.nonce);
  await waitFor('the first 300 delivered', () => proposable().length === 300);
  const other = a.ledger.mempool.add(register(a.ledger.otherOrg, 1).bytes);
  a.relay.broadcast(other);
  for (let n = 301; n <= 310; n++) a.relay.broadcast(a.ledger.mempool.add(register(a.ledger.org, n).bytes));
  // Not yet sent (the batch fills for flushMs), so not at B: left out, and nothing after them.
  assert.equal(a.relay.delivered(other.hashHex), false);
  assert.deepEqual(
    proposable(),
    Array.from({ length: 300 }, (_, i) => i + 1),
  );
  await waitFor('B to take the 11 new txs', () => b.ledger.mempool.size === 311);
  await waitFor('their delivery acknowledged', () => proposable().length === 311);
  assert.deepEqual(proposable().slice(299, 310), [300, 1, ...Array.from({ length: 9 }, (_, i) => 301 + i)]);
});

test('a tx that left the pool while it queued is not sent', async () => {
  const gone = a.ledger.mempool.add(register(a.ledger.org, 311).bytes);
  const next = a.ledger.mempool.add(register(a.ledger.otherOrg, 2).bytes);
  a.relay.broadcast(gone);
  a.relay.broadcast(next);
  a.ledger.mempool.update([gone.hashHex]); // as the commit of a block holding it does
  // Both were queued for one batch: B holding the second means the batch went without the first.
  await waitFor('the second tx at B', () => b.ledger.mempool.has(next.hashHex));
  assert.equal(b.ledger.mempool.has(gone.hashHex), false);
});

test('a batch holding a forged tx is refused and nothing of it is taken', async () => {
  const before = b.ledger.mempool.size;
  const good = register(a.ledger.otherOrg, 1).bytes;
  const forged = encodeTx({ ...register(a.ledger.otherOrg, 2).tx, signature: new Uint8Array(64) });
  await assert.rejects(
    a.net.request(b.net.peerId, PROTOCOL, encodeCanonical([good, forged]), {
      signal: AbortSignal.timeout(5000),
      maxResponseBytes: 16,
    }),
    (err: unknown) => err instanceof MedLedgerError && /TX_BATCH_INVALID|invalid/.test(err.message),
  );
  // The good tx ahead of it was admitted before the forgery was found; the forged one never is.
  assert.ok(b.ledger.mempool.size <= before + 1);
  assert.equal(b.ledger.mempool.has(toHex(sha256(forged))), false);
  // Not CBOR at all: refused too, and B keeps serving.
  await assert.rejects(
    a.net.request(b.net.peerId, PROTOCOL, new Uint8Array([0xff, 0x00]), {
      signal: AbortSignal.timeout(5000),
      maxResponseBytes: 16,
    }),
  );
  assert.equal(b.net.connectedPeers().length, 1);
});

test('a peer gets one batch admitted at a time, and a tx repeated within a batch is checked once', async () => {
  const ledger = await createLedger({ maxPerAccount: 1000 });
  // The handler alone, called as the request/response layer would: the order of calls is the test.
  let handler!: (data: Uint8Array, from: string) => Promise<Uint8Array>;
  const network = {
    handle: async (_protocol: string, h: typeof handler) => {
      handler = h;
    },
  } as unknown as Libp2pNetwork;
  const relay = new TxRelay(
    { protocol: PROTOCOL, ...DEFAULT_TX_RELAY_OPTIONS },
    { network, mempool: ledger.mempool, logger, metrics: ledger.metrics },
  );
  await relay.start();
  try {
    const [tx1, tx2, tx3] = [1, 2, 3].map((n) => register(ledger.org, n).bytes) as [Uint8Array, Uint8Array, Uint8Array];
    const first = handler(encodeCanonical([tx1, tx1, tx1, tx2]), 'peer-x');
    // While it waits, the same peer's next batch is "none taken"; another peer's is queued.
    assert.deepEqual(await handler(encodeCanonical([tx3]), 'peer-x'), encodeCanonical(0));
    const fromY = handler(encodeCanonical([tx3]), 'peer-y');
    assert.equal((await first).length, 0, 'all of it taken');
    assert.equal((await fromY).length, 0);
    assert.equal(ledger.mempool.size, 3);
    assert.equal(await count(ledger.metrics.relayTxsReceived, { result: 'known' }), 2, 'the two repeats');
    // Admitted: the peer may send again.
    assert.equal((await handler(encodeCanonical([register(ledger.org, 4).bytes]), 'peer-x')).length, 0);
    assert.equal(ledger.mempool.size, 4);
  } finally {
    relay.stop();
    await ledger.close();
  }
});

test('a peer with a full pool takes what fits and gets the rest, in order, once blocks make room', async () => {
  const keyD = generateKeyPair();
  const keyC = generateKeyPair();
  const ledgerD = await createLedger({ maxPerAccount: 1000 });
  // Room for 10 client txs, so 20 from peers.
  const ledgerC = await createLedger({ maxTxs: 10, maxPerAccount: 1000, sameChainAs: ledgerD.keys }).catch(
    async (err: unknown) => {
      await ledgerD.close();
      throw err;
    },
  );
  const sides: Side[] = [];
  try {
    const d = await side(ledgerD, keyD, [keyD, keyC], []);
    sides.push(d);
    const c = await side(ledgerC, keyC, [keyD, keyC], d.net.listenAddrs());
    sides.push(c);
    await waitFor('C and D connected', () => d.net.connectedPeers().length === 1);
    d.relay.syncPeers();
    const sent = Array.from({ length: 50 }, (_, i) => d.ledger.mempool.add(register(d.ledger.org, i + 1).bytes));
    for (const tx of sent) d.relay.broadcast(tx);
    // C cannot take nonce 50 yet; D's proposals still include it once deliveryWaitMs is over.
    assert.equal(d.relay.delivered(sent[49]!.hashHex), false);
    await waitFor('the wait for delivery to end', () => d.relay.delivered(sent[49]!.hashHex));
    assert.equal(c.ledger.mempool.has(sent[49]!.hashHex), false);
    const committed: number[] = [];
    while (committed.length < 50) {
      const expected = Array.from({ length: Math.min(20, 50 - committed.length) }, (_, i) => committed.length + i + 1);
      await waitFor(`nonces ${expected[0]}..${expected.at(-1)} at C`, () => c.ledger.mempool.size === expected.length);
      const txs = c.ledger.mempool.reap(1000, Number.MAX_SAFE_INTEGER);
      // No gap: a later nonce taken while an earlier one was refused could strand the earlier.
      assert.deepEqual(
        txs.map((e) => e.tx.nonce),
        expected,
      );
      // C proposes them and both commit the block, with the one validator's precommit.
      const validator = c.ledger.validators[0]!;
      const proposal = c.ledger.chain.buildProposal(0, Date.now(), validator.address, txs);
      const height = proposal.block.header.height;
      const blockHash = proposal.hash;
      const vote = voteSignBytes('unit-chain', { type: VoteType.Precommit, height, round: 0, blockHash });
      const commit = {
        height,
        round: 0,
        blockHash,
        signatures: [{ validator: validator.address, signature: validator.sign(vote) }],
      };
      for (const l of [c.ledger, d.ledger]) {
        l.chain.validateBlock(proposal.block, Date.now());
        l.mempool.update((await l.chain.commit(proposal.block, commit)).txHashes);
      }
      committed.push(...expected);
    }
    assert.equal(d.ledger.mempool.size, 0);
    // The refused parts went again on their own, not with D's whole pool each time.
    assert.ok((await count(d.ledger.metrics.relayDeferrals)) >= 2);
    assert.equal(await count(d.ledger.metrics.relayResyncs, { reason: 'failed' }), 0);
    assert.equal(await count(c.ledger.metrics.relayTxsReceived, { result: 'added' }), 50);
  } finally {
    for (const s of sides.reverse()) {
      s.relay.stop();
      await s.net.stop();
    }
    await ledgerC.close();
    await ledgerD.close();
  }
});
