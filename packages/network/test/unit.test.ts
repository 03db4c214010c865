import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicValidatorResult, type Message } from '@libp2p/gossipsub';
import { generateKeyPair } from '@medledger/crypto';
import { isMedLedgerError } from '@medledger/types';
import { pino } from 'pino';
import {
  GossipVerdict,
  NetworkErrorCode,
  createNetwork,
  peerIdFromNodePublicKey,
  protocols,
  publicKeyFromPeerId,
  resolveNetworkOptions,
  topics,
} from '../src/index.js';
import { createTopicValidator, msgIdFn } from '../src/gossip.js';
import { TokenBuckets } from '../src/rate-limit.js';
import { KeyedSlots } from '../src/slots.js';
import { decodeResponse, errorFrame, okFrame, MAX_ERROR_MESSAGE_BYTES } from '../src/reqresp.js';

const code = (c: string) => (err: unknown) => isMedLedgerError(err) && err.code === c;
const log = pino({ level: 'silent' });
const msg = (topic: string, data: Uint8Array): Message => ({ type: 'unsigned', topic, data });

describe('names and keys', () => {
  test('topics and protocols carry the chain id', () => {
    assert.deepEqual(topics('med-1'), { consensus: '/medledger/med-1/consensus/1' });
    assert.deepEqual(protocols('med-1'), {
      sync: '/medledger/med-1/sync/1',
      status: '/medledger/med-1/status/1',
      docs: '/medledger/med-1/docs/1',
      proposalTxs: '/medledger/med-1/proposal-txs/1',
      txs: '/medledger/med-1/txs/1',
    });
  });

  test('peer id <-> node public key round trip, and the network uses the same id', () => {
    const kp = generateKeyPair();
    const id = peerIdFromNodePublicKey(kp.publicKey);
    assert.match(id, /^12D3KooW/);
    assert.deepEqual(publicKeyFromPeerId(id), kp.publicKey);
    const net = createNetwork({ nodeKey: kp.secretKey, listen: '/ip4/127.0.0.1/tcp/0' });
    assert.equal(net.peerId, id);
    assert.deepEqual(net.listenAddrs(), []);
    assert.throws(() => peerIdFromNodePublicKey(new Uint8Array(31)), code(NetworkErrorCode.INVALID_KEY));
    assert.throws(() => publicKeyFromPeerId('garbage'), code(NetworkErrorCode.INVALID_PEER_ID));
    assert.throws(
      () => publicKeyFromPeerId('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N'),
      code(NetworkErrorCode.INVALID_PEER_ID),
    );
  });

  test('options are validated', () => {
    const nodeKey = generateKeyPair().secretKey;
    const listen = '/ip4/127.0.0.1/tcp/0';
    assert.equal(resolveNetworkOptions({ nodeKey, listen }).redialIntervalMs, 2000);
    assert.throws(
      () => resolveNetworkOptions({ nodeKey: new Uint8Array(3), listen }),
      code(NetworkErrorCode.INVALID_OPTIONS),
    );
    assert.throws(
      () => resolveNetworkOptions({ nodeKey, listen: '/ip4/1.2.3.4/udp/1' }),
      code(NetworkErrorCode.INVALID_OPTIONS),
    );
    assert.throws(
      () => resolveNetworkOptions({ nodeKey, listen, allowedKeys: ['zz'] }),
      code(NetworkErrorCode.INVALID_OPTIONS),
    );
    assert.throws(
      () => resolveNetworkOptions({ nodeKey, listen, bootstrap: ['/ip4/127.0.0.1/tcp/1'] }),
      code(NetworkErrorCode.INVALID_OPTIONS),
    );
    assert.throws(
      () => resolveNetworkOptions({ nodeKey, listen, redialIntervalMs: 0 }),
      code(NetworkErrorCode.INVALID_OPTIONS),
    );
    assert.throws(
      () => createNetwork({ nodeKey, listen, bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/notapeer'] }),
      (err) => isMedLedgerError(err),
    );
  });
});

describe('lifecycle', () => {
  test('a taken port fails start() with NETWORK_START_FAILED; concurrent start() builds one node', async () => {
    const listen = '/ip4/127.0.0.1/tcp/0';
    const a = createNetwork({ nodeKey: generateKeyPair().secretKey, listen });
    await Promise.all([a.start(), a.start()]);
    try {
      const port = a.listenAddrs()[0]!.split('/')[4];
      const b = createNetwork({ nodeKey: generateKeyPair().secretKey, listen: `/ip4/127.0.0.1/tcp/${port}` });
      await assert.rejects(b.start(), code(NetworkErrorCode.START_FAILED));
      await b.stop();
      assert.equal(a.listenAddrs().length, 1);
    } finally {
      await a.stop();
      await a.stop();
    }
  });
});

describe('gossip validation wrapper', () => {
  test('message ids cover topic and data', () => {
    const d = new Uint8Array([1, 2, 3]);
    assert.deepEqual(msgIdFn(msg('/a', d)), msgIdFn(msg('/a', new Uint8Array([1, 2, 3]))));
    assert.notDeepEqual(msgIdFn(msg('/a', d)), msgIdFn(msg('/b', d)));
    assert.notDeepEqual(msgIdFn(msg('/a', d)), msgIdFn(msg('/a', new Uint8Array([1, 2]))));
  });

  test('blocked, oversize, throwing and unknown verdicts map to ignore/reject; accept passes', async () => {
    const blocked = new Set(['bad-peer']);
    const v = createTopicValidator({
      topic: '/t',
      maxBytes: 4,
      maxPending: 10,
      validate: (data) => {
        if (data[0] === 9) throw new Error('undecodable');
        if (data[0] === 8) return 'maybe' as GossipVerdict;
        if (data[0] === 7) return Promise.reject(new Error('async failure'));
        return data[0] === 1 ? GossipVerdict.Ignore : GossipVerdict.Accept;
      },
      isBlocked: (p) => blocked.has(p),
      log,
    });
    const peer = { toString: () => 'good-peer' } as never;
    const run = (data: number[], p = peer) => v(p, msg('/t', Uint8Array.from(data)));
    assert.equal(await run([0]), TopicValidatorResult.Accept);
    assert.equal(await run([1]), TopicValidatorResult.Ignore);
    assert.equal(await run([0, 0, 0, 0, 0]), TopicValidatorResult.Reject);
    assert.equal(await run([9]), TopicValidatorResult.Reject);
    assert.equal(await run([8]), TopicValidatorResult.Reject);
    assert.equal(await run([7]), TopicValidatorResult.Reject);
    assert.equal(await run([0], { toString: () => 'bad-peer' } as never), TopicValidatorResult.Ignore);
  });

  test('validations beyond the bound are ignored, not queued', async () => {
    const release: Array<() => void> = [];
    const v = createTopicValidator({
      topic: '/t',
      maxBytes: 100,
      maxPending: 3,
      validate: () => new Promise<GossipVerdict>((resolve) => release.push(() => resolve(GossipVerdict.Accept))),
      isBlocked: () => false,
      log,
    });
    const peer = { toString: () => 'p' } as never;
    const inflight = [1, 2, 3].map(() => v(peer, msg('/t', new Uint8Array(1))));
    assert.equal(v.pending(), 3);
    assert.equal(await v(peer, msg('/t', new Uint8Array(1))), TopicValidatorResult.Ignore);
    release.forEach((r) => r());
    assert.deepEqual(
      await Promise.all(inflight),
      [1, 2, 3].map(() => TopicValidatorResult.Accept),
    );
    assert.equal(v.pending(), 0);
  });
});

describe('request/response pieces', () => {
  test('frames encode and decode', () => {
    const meta = {};
    assert.deepEqual(decodeResponse(okFrame(Uint8Array.of(1, 2)), 10, meta), Uint8Array.of(1, 2));
    assert.throws(
      () => decodeResponse(okFrame(new Uint8Array(11)), 10, meta),
      code(NetworkErrorCode.RESPONSE_TOO_LARGE),
    );
    assert.throws(
      () => decodeResponse(errorFrame('no such block'), 10, meta),
      (err) => code(NetworkErrorCode.REMOTE_ERROR)(err) && (err as Error).message === 'no such block',
    );
    assert.equal(errorFrame('x'.repeat(5000)).length, MAX_ERROR_MESSAGE_BYTES + 1);
    assert.throws(() => decodeResponse(new Uint8Array(0), 10, meta), code(NetworkErrorCode.PROTOCOL_ERROR));
    assert.throws(() => decodeResponse(Uint8Array.of(7), 10, meta), code(NetworkErrorCode.PROTOCOL_ERROR));
  });

  test('token buckets allow a burst, then the rate, and forget idle peers', () => {
    let now = 0;
    const tb = new TokenBuckets(5, () => now);
    const burst = Array.from({ length: 8 }, () => tb.take('p')).filter(Boolean).length;
    assert.equal(burst, 5);
    assert.equal(tb.take('q'), true);
    now += 200; // one token back
    assert.equal(tb.take('p'), true);
    assert.equal(tb.take('p'), false);
    now += 10_000;
    tb.prune();
    assert.equal(tb.size, 0);
  });

  test('outbound slots queue callers beyond the bound and honour abort while waiting', async () => {
    const slots = new KeyedSlots(2);
    const never = new AbortController().signal;
    const r1 = await slots.acquire('k', never);
    const r2 = await slots.acquire('k', never);
    let third = false;
    const p3 = slots.acquire('k', never).then((r) => {
      third = true;
      return r;
    });
    const ctl = new AbortController();
    const p4 = slots.acquire('k', ctl.signal);
    await new Promise((r) => setImmediate(r));
    assert.equal(third, false);
    ctl.abort();
    await assert.rejects(p4, code(NetworkErrorCode.ABORTED));
    r1();
    r1(); // idempotent
    const r3 = await p3;
    assert.equal(third, true);
    // Another key is independent.
    (await slots.acquire('other', never))();
    r2();
    r3();
    (await slots.acquire('k', never))();
  });
});
