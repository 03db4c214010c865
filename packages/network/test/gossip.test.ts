import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isMedLedgerError } from '@medledger/types';
import { GossipVerdict, NetworkErrorCode, topics, type Libp2pNetwork } from '../src/index.js';
import { parsePeerId } from '../src/keys.js';
import { dec, enc, makeNetwork, makePeers, never, stopAll, waitFor, type TestPeer } from './helpers.js';

const TOPIC = topics('test-chain').consensus;

interface Inbox {
  got: Array<{ text: string; from: string }>;
  validated: number;
}

/** Test validator: the first character says what to do. */
function verdictFor(text: string): GossipVerdict {
  switch (text[0]) {
    case 'g':
      throw new Error('garbage: cannot decode');
    case 'r':
      return GossipVerdict.Reject;
    case 'i':
      return GossipVerdict.Ignore;
    default:
      return GossipVerdict.Accept;
  }
}

function subscribeInbox(net: Libp2pNetwork, async = false): Inbox {
  const inbox: Inbox = { got: [], validated: 0 };
  net.subscribe(
    TOPIC,
    (data) => {
      inbox.validated++;
      const v = verdictFor(dec(data));
      return async ? Promise.resolve(v) : v;
    },
    (data, from) => {
      inbox.got.push({ text: dec(data), from });
    },
  );
  return inbox;
}

const has = (inbox: Inbox, text: string): boolean => inbox.got.some((m) => m.text === text);

describe('gossip between three nodes', () => {
  let peers: TestPeer[];
  let nets: Libp2pNetwork[] = [];
  let inboxes: Inbox[];

  before(async () => {
    peers = await makePeers(3);
    // A may publish up to 10 kB on the topic; B and C accept 1 kB, so A can send them oversize messages.
    nets = peers.map((p, i) => makeNetwork(p, peers, { maxMessageBytes: { [TOPIC]: i === 0 ? 10_000 : 1000 } }));
    inboxes = nets.map((n, i) => subscribeInbox(n, i === 2));
    await Promise.all(nets.map((n) => n.start()));
    // Mesh formation: each node must know the other two subscribe to the topic.
    await waitFor(() => nets.every((n) => n.topicPeers(TOPIC).length === 2), 'topic peers on every node');
  });
  after(() => stopAll(nets));

  test('a message published by one node reaches the other two, never itself', async () => {
    const [a, b, c] = nets as [Libp2pNetwork, Libp2pNetwork, Libp2pNetwork];
    await a.publish(TOPIC, enc('hello-1'));
    await waitFor(() => has(inboxes[1]!, 'hello-1') && has(inboxes[2]!, 'hello-1'), 'delivery to B and C');
    assert.equal(has(inboxes[0]!, 'hello-1'), false);
    assert.equal(inboxes[1]!.got.find((m) => m.text === 'hello-1')?.from, a.peerId);
    // And from another publisher.
    await c.publish(TOPIC, enc('hello-2'));
    await waitFor(() => has(inboxes[0]!, 'hello-2') && has(inboxes[1]!, 'hello-2'), 'delivery of C message');
    assert.ok(b.listenAddrs().every((s) => s.includes(`/p2p/${b.peerId}`)));
  });

  test('oversize and undecodable messages are rejected and the nodes keep working', async () => {
    const [a, b] = nets as [Libp2pNetwork, Libp2pNetwork];
    const validatedBefore = inboxes[1]!.validated;
    // 5 kB: over B's and C's 1 kB limit, so rejected before their validator runs.
    await a.publish(TOPIC, enc('a' + 'x'.repeat(5000)));
    await a.publish(TOPIC, enc('garbage that the validator cannot decode'));
    await a.publish(TOPIC, enc('after-garbage'));
    await waitFor(
      () => has(inboxes[1]!, 'after-garbage') && has(inboxes[2]!, 'after-garbage'),
      'delivery after garbage',
    );
    assert.ok(inboxes.every((box) => box.got.every((m) => m.text.length < 1000 && m.text[0] !== 'g')));
    // The oversize message never reached B's validator; the undecodable one and the good one did.
    assert.equal(inboxes[1]!.validated - validatedBefore, 2);
    // Our own publish is bounded too.
    await assert.rejects(b.publish(TOPIC, new Uint8Array(1001)), (err) => {
      assert.ok(isMedLedgerError(err));
      assert.equal(err.code, NetworkErrorCode.MESSAGE_TOO_LARGE);
      return true;
    });
  });

  test('garbage bytes on the gossipsub stream itself do not crash a node', async () => {
    const [a, b, c] = nets as [Libp2pNetwork, Libp2pNetwork, Libp2pNetwork];
    const raw = c.libp2p!;
    for (const protocol of ['/meshsub/1.2.0', '/meshsub/1.1.0']) {
      const stream = await raw.dialProtocol(parsePeerId(b.peerId), protocol);
      // A length prefix promising 4 GB, then random bytes; then a valid prefix with junk protobuf.
      stream.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
      stream.send(randomBytes(2048));
      await stream.close().catch(() => undefined);
      const stream2 = await raw.dialProtocol(parsePeerId(b.peerId), protocol);
      stream2.send(Uint8Array.from([100, ...randomBytes(100)]));
      await stream2.close().catch(() => undefined);
    }
    await a.publish(TOPIC, enc('still-alive'));
    await waitFor(() => has(inboxes[1]!, 'still-alive'), 'B still delivering');
  });

  test('a peer that keeps sending invalid messages is graylisted', async () => {
    const [a, b] = nets as [Libp2pNetwork, Libp2pNetwork];
    for (let i = 0; i < 8; i++) await a.publish(TOPIC, enc(`r-invalid-${i}`));
    await waitFor(() => (b.gossipScore(a.peerId) ?? 0) < -80, 'A graylisted at B');
    // Gossipsub lets a peer that was in good standing through for up to 1 s after its score
    // falls (its accept-from whitelist); outlast that window.
    await new Promise((r) => setTimeout(r, 1100));
    assert.ok((b.gossipScore(a.peerId) ?? 0) < -80);
    await a.publish(TOPIC, enc('from-graylisted'));
    await never(
      () => inboxes[1]!.got.some((m) => m.text === 'from-graylisted' && m.from === a.peerId),
      'B accepted a message straight from a graylisted peer',
      800,
    );
  });
});

describe('gossip forwarding obeys the validator (line A - B - C)', () => {
  let nets: Libp2pNetwork[] = [];
  let inboxes: Inbox[];

  before(async () => {
    const [pa, pb, pc] = (await makePeers(3)) as [TestPeer, TestPeer, TestPeer];
    // A and C do not admit each other, so everything between them goes through B.
    nets = [
      makeNetwork(pa, [pa, pb, pc], { allowed: [pa, pb], bootstrapTo: [pb] }),
      makeNetwork(pb, [pa, pb, pc], { bootstrapTo: [] }),
      makeNetwork(pc, [pa, pb, pc], { allowed: [pb, pc], bootstrapTo: [pb] }),
    ];
    inboxes = nets.map((n) => subscribeInbox(n));
    await Promise.all(nets.map((n) => n.start()));
    const [a, , c] = nets as [Libp2pNetwork, Libp2pNetwork, Libp2pNetwork];
    // Poll with probes until one crosses the line: the mesh on B is formed.
    let i = 0;
    await waitFor(async () => {
      await a.publish(TOPIC, enc(`probe-${i++}`));
      return inboxes[2]!.got.some((m) => m.text.startsWith('probe-'));
    }, 'a probe from A to reach C through B');
    assert.equal(
      c.connectedPeers().some((p) => p.peerId === a.peerId),
      false,
    );
  });
  after(() => stopAll(nets));

  test('ignored and rejected messages are not forwarded; accepted ones are', async () => {
    const [a, b] = nets as [Libp2pNetwork, Libp2pNetwork];
    await a.publish(TOPIC, enc('i-ignored'));
    await a.publish(TOPIC, enc('r-rejected'));
    await a.publish(TOPIC, enc('accepted'));
    await waitFor(() => has(inboxes[2]!, 'accepted'), 'accepted message at C');
    // Same path, same order: had B forwarded them, they would have arrived before 'accepted'.
    await never(() => has(inboxes[2]!, 'i-ignored') || has(inboxes[2]!, 'r-rejected'), 'C got a dropped message', 300);
    assert.equal(has(inboxes[1]!, 'i-ignored') || has(inboxes[1]!, 'r-rejected'), false);
    assert.equal(inboxes[2]!.got.find((m) => m.text === 'accepted')?.from, b.peerId);
  });
});
