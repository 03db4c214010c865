import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isMedLedgerError } from '@medledger/types';
import { NetworkErrorCode, protocols, topics, GossipVerdict, type Libp2pNetwork } from '../src/index.js';
import { connected, dec, enc, makeNetwork, makePeers, never, stopAll, waitFor, type TestPeer } from './helpers.js';

const TOPIC = topics('test-chain').consensus;
const P = protocols('test-chain');
const LIMITS = { maxRequestBytes: 1024, maxResponseBytes: 1024, requestsPerSecond: 100 };

function wire(net: Libp2pNetwork, inbox: string[]): Promise<void> {
  net.subscribe(
    TOPIC,
    () => GossipVerdict.Accept,
    (data) => inbox.push(dec(data)),
  );
  return net.handle(P.status, async (req) => req, LIMITS);
}

const req = (from: Libp2pNetwork, to: { peerId: string }) =>
  from.request(to.peerId, P.status, enc('hi'), { signal: AbortSignal.timeout(3000), maxResponseBytes: 100 });

describe('fault layer', () => {
  let peers: TestPeer[];
  let nets: Libp2pNetwork[] = [];
  let inboxes: string[][];

  before(async () => {
    peers = await makePeers(3);
    nets = peers.map((p) => makeNetwork(p, peers));
    inboxes = nets.map(() => []);
    await Promise.all(nets.map((n, i) => wire(n, inboxes[i]!)));
    await Promise.all(nets.map((n) => n.start()));
    await waitFor(() => nets.every((n) => n.topicPeers(TOPIC).length === 2), 'topic peers on every node');
  });
  after(() => stopAll(nets));

  test('an isolated node gets no gossip and no requests; healing restores both', async () => {
    const [a, b, c] = nets as [Libp2pNetwork, Libp2pNetwork, Libp2pNetwork];
    // Partition C away from A and B, as a partition test would, on every side.
    a.blockPeers([c.peerId]);
    b.blockPeers([c.peerId]);
    c.blockPeers([a.peerId, b.peerId]);
    await waitFor(() => c.connectedPeers().length === 0 && !connected(a, c) && !connected(b, c), 'C cut off');
    await a.publish(TOPIC, enc('during-partition'));
    await waitFor(() => inboxes[1]!.includes('during-partition'), 'B gets gossip during the partition');
    await never(() => inboxes[2]!.includes('during-partition'), 'C got gossip while partitioned', 500);
    await assert.rejects(req(a, c), (err) => isMedLedgerError(err) && err.code === NetworkErrorCode.PEER_BLOCKED);
    await assert.rejects(req(c, b), (err) => isMedLedgerError(err) && err.code === NetworkErrorCode.PEER_BLOCKED);
    assert.deepEqual(dec(await req(a, b)), 'hi');

    const t0 = performance.now();
    for (const n of nets) n.blockPeers([]);
    await waitFor(() => nets.every((n) => n.topicPeers(TOPIC).length === 2), 'mesh re-formed after heal');
    const healMs = performance.now() - t0;
    await a.publish(TOPIC, enc('after-heal'));
    await waitFor(() => inboxes[2]!.includes('after-heal'), 'C gets gossip after healing');
    assert.equal(dec(await req(c, a)), 'hi');
    assert.ok(healMs < 5000, `healed in ${healMs} ms`);
  });

  test('a one-sided block refuses the other side too', async () => {
    const [a, , c] = nets as [Libp2pNetwork, Libp2pNetwork, Libp2pNetwork];
    a.blockPeers([c.peerId]);
    await waitFor(() => !connected(a, c) && !connected(c, a), 'A and C disconnected');
    // C still allows A and keeps redialling it, but A refuses every connection.
    await assert.rejects(req(c, a), (err) => isMedLedgerError(err) && err.code === NetworkErrorCode.DIAL_FAILED);
    await never(() => connected(a, c), 'A accepted C', 700);
    a.blockPeers([]);
    await waitFor(() => connected(a, c), 'A and C reconnected');
  });
});

describe('restart', () => {
  let peers: TestPeer[];
  let nets: Array<Libp2pNetwork | undefined> = [];

  before(async () => {
    peers = await makePeers(3);
    nets = peers.map((p) => makeNetwork(p, peers));
    await Promise.all(nets.map((n) => n!.start()));
    await waitFor(() => nets.every((n) => n!.connectedPeers().length === 2), 'full mesh');
  });
  after(() => stopAll(nets));

  test('a node restarted with the same key and port is reconnected by the others within seconds', async () => {
    const [a, b] = nets as [Libp2pNetwork, Libp2pNetwork];
    const pc = peers[2]!;
    await nets[2]!.stop();
    await waitFor(() => !connected(a, pc) && !connected(b, pc), 'C gone from A and B');
    // The new instance has no bootstrap list: only the others' redial can bring it back.
    const inbox: string[] = [];
    const c2 = makeNetwork(pc, peers, { bootstrapTo: [] });
    nets[2] = c2;
    c2.subscribe(
      TOPIC,
      () => GossipVerdict.Accept,
      (d) => inbox.push(dec(d)),
    );
    a.subscribe(
      TOPIC,
      () => GossipVerdict.Accept,
      () => undefined,
    );
    const t0 = performance.now();
    await c2.start();
    await waitFor(() => connected(a, pc) && connected(b, pc), 'A and B reconnected to the restarted C', 5000);
    const reconnectMs = performance.now() - t0;
    assert.equal(c2.peerId, pc.peerId);
    await waitFor(() => a.topicPeers(TOPIC).includes(pc.peerId), 'C back in the topic');
    await a.publish(TOPIC, enc('welcome-back'));
    await waitFor(() => inbox.includes('welcome-back'), 'gossip to the restarted C');
    assert.ok(reconnectMs < 5000, `reconnected in ${reconnectMs} ms`);
    console.log(`# restart: reconnected in ${reconnectMs.toFixed(0)} ms`);
  });

  test('stop() then start() on the same instance restores its subscriptions and handlers', async () => {
    const [a, b] = nets as [Libp2pNetwork, Libp2pNetwork];
    const inbox: string[] = [];
    b.subscribe(
      TOPIC,
      () => GossipVerdict.Accept,
      (d) => inbox.push(dec(d)),
    );
    await b.handle(P.status, async (r) => r, LIMITS);
    await b.stop();
    assert.deepEqual(b.connectedPeers(), []);
    await b.start();
    await waitFor(() => a.topicPeers(TOPIC).includes(b.peerId), 'B back in the topic');
    await a.publish(TOPIC, enc('again'));
    await waitFor(() => inbox.includes('again'), 'gossip after start/stop/start');
    assert.equal(dec(await req(a, b)), 'hi');
  });
});
