import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isMedLedgerError } from '@medledger/types';
import { NetworkErrorCode, protocols, type Libp2pNetwork } from '../src/index.js';
import { parsePeerId } from '../src/keys.js';
import { connected, enc, makeNetwork, makePeers, never, stopAll, waitFor, type TestPeer } from './helpers.js';

const P = protocols('test-chain');
const LIMITS = { maxRequestBytes: 1024, maxResponseBytes: 1024, requestsPerSecond: 100 };

describe('permissioned connection gater', () => {
  let a: Libp2pNetwork;
  let b: Libp2pNetwork;
  let outsider: Libp2pNetwork;
  let pa: TestPeer;
  let pb: TestPeer;
  let po: TestPeer;

  before(async () => {
    [pa, pb, po] = (await makePeers(3)) as [TestPeer, TestPeer, TestPeer];
    a = makeNetwork(pa, [pa, pb], { bootstrapTo: [pb] });
    b = makeNetwork(pb, [pa, pb], { bootstrapTo: [pa] });
    // The outsider admits A and B on its side and keeps dialling A: only A's gater stands in the way.
    outsider = makeNetwork(po, [pa, pb, po], { bootstrapTo: [pa, pb] });
    for (const n of [a, b]) await n.handle(P.status, async (req) => req, LIMITS);
    await Promise.all([a.start(), b.start(), outsider.start()]);
    await waitFor(() => connected(a, b) && connected(b, a), 'A and B connected');
  });
  after(() => stopAll([a, b, outsider]));

  test('a peer whose key is not allowed cannot connect; allowed ones can', async () => {
    // The outsider redials every 300 ms; none of its attempts may produce a connection on our
    // side. (On the outsider's side each attempt shows as open for a few ms: Noise carries the
    // muxer choice, so its upgrade completes before our gater closes the socket.)
    await never(() => connected(a, po) || connected(b, po), 'a connection with the outsider', 1200);
    await assert.rejects(
      outsider.request(a.peerId, P.status, enc('hi'), { signal: AbortSignal.timeout(3000), maxResponseBytes: 100 }),
      (err) => isMedLedgerError(err) && err.code === NetworkErrorCode.DIAL_FAILED,
    );
    // Refused on our side before any dial.
    await assert.rejects(
      a.request(po.peerId, P.status, enc('hi'), { signal: AbortSignal.timeout(3000), maxResponseBytes: 100 }),
      (err) => isMedLedgerError(err) && err.code === NetworkErrorCode.PEER_NOT_ALLOWED,
    );
    // Even a raw libp2p dial from A to the outsider is denied.
    await assert.rejects(a.libp2p!.dial(parsePeerId(po.peerId)));
    const res = await a.request(b.peerId, P.status, enc('hi'), {
      signal: AbortSignal.timeout(3000),
      maxResponseBytes: 100,
    });
    assert.deepEqual(res, enc('hi'));
    const info = a.connectedPeers().find((p) => p.peerId === b.peerId);
    assert.equal(info?.publicKey, pb.publicKeyHex);
    assert.ok(info?.addrs[0]?.startsWith('/ip4/127.0.0.1/tcp/'));
  });

  test('removing a key disconnects that peer and keeps it out; adding it back lets it in', async () => {
    a.setAllowedKeys([pa.publicKeyHex]);
    await waitFor(() => !connected(a, pb) && !connected(b, pa), 'A and B disconnected');
    // B keeps redialling A; A keeps refusing.
    await never(() => connected(a, pb), 'B reconnected to A while not allowed', 1000);
    a.setAllowedKeys([pa.publicKeyHex, pb.publicKeyHex.toUpperCase()]);
    const ms = await waitFor(() => connected(a, pb) && connected(b, pa), 'A and B reconnected');
    assert.ok(ms < 5000);
  });
});
