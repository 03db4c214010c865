import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { gossipsub, StrictNoSign, type GossipSub, type GossipsubMessage } from '@libp2p/gossipsub';
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score';
import { identify } from '@libp2p/identify';
import type { IdentifyResult, Libp2p, PeerId, PrivateKey, Startable } from '@libp2p/interface';
import { ping } from '@libp2p/ping';
import { tcp } from '@libp2p/tcp';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { pino, type Logger } from 'pino';
import { publicKeyFromSecret } from '@medledger/crypto';
import { plain } from './bytes.js';
import { NetworkErrorCode, abortError, errorMessage, networkError } from './errors.js';
import { PeerGate } from './gater.js';
import {
  createTopicValidator,
  gossipScoreParams,
  gossipScoreThresholds,
  msgIdFn,
  msgIdToStrFn,
  topicScoreParams,
} from './gossip.js';
import type {
  GossipHandler,
  GossipValidator,
  NetworkService,
  PeerInfo,
  ProtocolLimits,
  RequestHandler,
} from './interface.js';
import { parsePeerId, peerIdFromNodePublicKey, privateKeyFromNodeKey, publicKeyHexOf } from './keys.js';
import type { NetworkMetrics } from './metrics.js';
import { resolveNetworkOptions, type NetworkOptions, type ResolvedNetworkOptions } from './options.js';
import { TokenBuckets } from './rate-limit.js';
import { KeyedCounter, KeyedSlots } from './slots.js';
import { KeptStream, sendRequest, serveStream } from './reqresp.js';

export interface NetworkModules {
  logger?: Logger;
  metrics?: NetworkMetrics;
}

/** The gossipsub class exposes peer scores; the factory's interface type does not. */
type GossipSubWithScore = GossipSub & {
  getScore?(peerId: string): number;
  score?: { params?: { topics?: Record<string, TopicScoreParams> } };
};

interface Subscription {
  validate: GossipValidator;
  handle: GossipHandler;
}

interface ProtocolHandler {
  handler: RequestHandler;
  limits: ProtocolLimits;
  limiter: TokenBuckets;
  openStreams: KeyedCounter;
}

interface BootstrapPeer {
  addr: Multiaddr;
  peerId: PeerId;
}

// Bounds on gossipsub's own RPC frames: the largest message plus room for control messages.
const RPC_OVERHEAD_BYTES = 64 * 1024;
const MIN_RPC_BYTES = 1024 * 1024;
/**
 * Peer-store tag on bootstrap peers: protects their connections from the pruner. Deliberately not
 * libp2p's KEEP_ALIVE tag: its reconnect queue redials the moment a connection closes, and a
 * connection to a peer whose gater refuses us does open on our side (Noise carries the muxer
 * choice, so our upgrade finishes before the remote's gater closes the socket). That counts as
 * a successful reconnect, the close triggers the next one, and the two nodes churn dozens of
 * connections a second (measured: ~20/s against one refusing peer). Our own redial below has an interval instead.
 */
const BOOTSTRAP_TAG = 'medledger-bootstrap';

// Inbound streams per protocol per connection: enough for pipelined sync, small enough to bound memory.
const MAX_STREAMS_PER_PROTOCOL = 64;

function createNode(opts: ResolvedNetworkOptions, privateKey: PrivateKey, gate: PeerGate) {
  const largest = Math.max(opts.defaultMaxMessageBytes, ...Object.values(opts.maxMessageBytes));
  const scoreParams = gossipScoreParams();
  scoreParams.topics = Object.fromEntries(Object.keys(opts.maxMessageBytes).map((t) => [t, topicScoreParams()]));
  return createLibp2p({
    privateKey,
    start: false,
    addresses: { listen: [opts.listen] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: gate.connectionGater(),
    connectionManager: {
      maxConnections: opts.maxConnections,
      dialTimeout: opts.dialTimeoutMs,
      // Admission is by key (the gater); a per-IP inbound rate would trip on a loopback testnet.
      inboundConnectionThreshold: 1000,
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // Payloads are signed by the application; a second libp2p signature would only cost CPU.
        globalSignaturePolicy: StrictNoSign,
        msgIdFn,
        msgIdToStrFn,
        allowPublishToZeroTopicPeers: true,
        ignoreDuplicatePublishError: true,
        emitSelf: false,
        fallbackToFloodsub: false,
        floodPublish: true,
        doPX: false,
        heartbeatInterval: opts.gossipHeartbeatMs,
        maxInboundDataLength: Math.max(MIN_RPC_BYTES, 2 * largest + RPC_OVERHEAD_BYTES),
        scoreParams,
        scoreThresholds: gossipScoreThresholds,
      }),
    },
  });
}

type Node = Libp2p<{ pubsub: GossipSub }>;

/**
 * The libp2p network: TCP + Noise + Yamux, gossipsub for topics, length-prefixed
 * request/response protocols (one-off streams, or one kept stream per peer for frequent
 * requests), a permissioned connection gater and a fault layer for partition tests. A fresh
 * libp2p node is built on every start, so a stopped service can be started again.
 */
export class Libp2pNetwork implements NetworkService, Startable {
  readonly peerId: string;
  private readonly opts: ResolvedNetworkOptions;
  private readonly log: Logger;
  private readonly metrics?: NetworkMetrics;
  private readonly privateKey: PrivateKey;
  private readonly gate: PeerGate;
  private readonly bootstrap: BootstrapPeer[];
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly handlers = new Map<string, ProtocolHandler>();
  private readonly dialing = new Set<string>();
  private readonly outboundSlots = new KeyedSlots(MAX_STREAMS_PER_PROTOCOL);
  /** Streams kept open for `keepStream` requests, by peer and protocol. */
  private readonly keptStreams = new Map<string, KeptStream>();
  /** Peers whose current connection completed identify: the remote admitted us too. */
  private readonly identified = new Set<string>();
  private node?: Node;
  private stopController = new AbortController();
  private redialTimer?: ReturnType<typeof setInterval>;
  private starting?: Promise<void>;

  constructor(opts: NetworkOptions, modules: NetworkModules = {}) {
    this.opts = resolveNetworkOptions(opts);
    const base = modules.logger ?? pino({ level: 'silent' });
    // The node may already hand us its `{module: 'network'}` child; binding it twice would
    // print the key twice on every line.
    this.log = base.bindings().module === 'network' ? base : base.child({ module: 'network' });
    this.metrics = modules.metrics;
    this.privateKey = privateKeyFromNodeKey(this.opts.nodeKey);
    this.peerId = peerIdFromNodePublicKey(publicKeyFromSecret(this.opts.nodeKey));
    this.gate = new PeerGate(this.opts.allowedKeys);
    this.bootstrap = this.opts.bootstrap.map((s) => {
      let addr: Multiaddr;
      try {
        addr = multiaddr(s);
      } catch {
        throw networkError(NetworkErrorCode.INVALID_OPTIONS, 'network.bootstrap: not a multiaddr', { addr: s });
      }
      const p2p = addr.getComponents().find((c) => c.name === 'p2p')?.value;
      if (p2p === undefined) {
        throw networkError(NetworkErrorCode.INVALID_OPTIONS, 'network.bootstrap: missing /p2p/<peerId>', { addr: s });
      }
      return { addr, peerId: parsePeerId(p2p) };
    });
  }

  isStarted(): boolean {
    return this.node !== undefined;
  }

  async start(): Promise<void> {
    if (this.node !== undefined) return;
    // Two concurrent start() calls must not build two nodes on one port.
    this.starting ??= this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.stopController = new AbortController();
    let node: Node;
    try {
      node = (await createNode(this.opts, this.privateKey, this.gate)) as unknown as Node;
    } catch (err) {
      throw networkError(NetworkErrorCode.START_FAILED, `cannot create libp2p node: ${errorMessage(err)}`);
    }
    node.services.pubsub.addEventListener('gossipsub:message', this.onGossip);
    node.addEventListener('peer:connect', this.onPeerConnect);
    node.addEventListener('peer:disconnect', this.onPeerDisconnect);
    node.addEventListener('peer:identify', this.onPeerIdentify);
    // Protocol handlers go in before listening so no early stream finds them missing; gossipsub
    // only accepts subscriptions once started.
    for (const protocol of this.handlers.keys()) await this.attachProtocol(node, protocol);
    try {
      await node.start();
    } catch (err) {
      await Promise.resolve(node.stop()).catch(() => undefined);
      // Typically the port is taken (EADDRINUSE). libp2p's listener error keeps the system errno
      // only in its text: `meta.errno` hands it on, so callers need not parse libp2p's wording.
      const errno = /\b(E[A-Z]{3,})\b/.exec(errorMessage(err))?.[1];
      throw networkError(NetworkErrorCode.START_FAILED, `cannot listen on ${this.opts.listen}: ${errorMessage(err)}`, {
        listen: this.opts.listen,
        ...(errno ? { errno } : {}),
      });
    }
    this.node = node;
    for (const topic of this.subscriptions.keys()) this.attachTopic(node, topic);
    for (const b of this.bootstrap) {
      if (b.peerId.toString() === this.peerId) continue;
      await node.peerStore
        .merge(b.peerId, { multiaddrs: [b.addr], tags: { [BOOTSTRAP_TAG]: { value: 100 } } })
        .catch((err: unknown) => this.log.warn({ peer: b.peerId.toString(), err: errorMessage(err) }, 'peer store'));
    }
    this.redial();
    this.redialTimer = setInterval(() => this.redial(), this.opts.redialIntervalMs);
    this.redialTimer.unref();
    this.log.info(
      { peerId: this.peerId, addrs: this.listenAddrs(), bootstrap: this.bootstrap.length },
      'network started',
    );
  }

  async stop(): Promise<void> {
    await this.starting?.catch(() => undefined);
    const node = this.node;
    if (node === undefined) return;
    this.node = undefined;
    if (this.redialTimer !== undefined) clearInterval(this.redialTimer);
    this.redialTimer = undefined;
    this.stopController.abort(new Error('network stopping'));
    node.services.pubsub.removeEventListener('gossipsub:message', this.onGossip);
    node.removeEventListener('peer:connect', this.onPeerConnect);
    node.removeEventListener('peer:disconnect', this.onPeerDisconnect);
    node.removeEventListener('peer:identify', this.onPeerIdentify);
    this.identified.clear();
    for (const kept of this.keptStreams.values()) kept.close();
    this.keptStreams.clear();
    await node.stop();
    this.log.info('network stopped');
  }

  listenAddrs(): string[] {
    const node = this.node;
    if (node === undefined) return [];
    return node.getMultiaddrs().map((ma) => {
      const s = ma.toString();
      return s.includes('/p2p/') ? s : `${s}/p2p/${this.peerId}`;
    });
  }

  subscribe(topic: string, validate: GossipValidator, handle: GossipHandler): void {
    if (this.subscriptions.has(topic)) {
      throw networkError(NetworkErrorCode.ALREADY_SUBSCRIBED, `already subscribed to ${topic}`, { topic });
    }
    this.subscriptions.set(topic, { validate, handle });
    if (this.node !== undefined) this.attachTopic(this.node, topic);
  }

  async publish(topic: string, data: Uint8Array): Promise<void> {
    const node = this.requireStarted();
    const maxBytes = this.maxMessageBytes(topic);
    if (data.length > maxBytes) {
      throw networkError(NetworkErrorCode.MESSAGE_TOO_LARGE, `message of ${data.length} bytes exceeds ${maxBytes}`, {
        topic,
        bytes: data.length,
        maxBytes,
      });
    }
    try {
      await node.services.pubsub.publish(topic, data);
    } catch (err) {
      throw networkError(NetworkErrorCode.PUBLISH_FAILED, `publish failed: ${errorMessage(err)}`, { topic });
    }
  }

  async handle(protocol: string, handler: RequestHandler, limits: ProtocolLimits): Promise<void> {
    for (const f of ['maxRequestBytes', 'maxResponseBytes', 'requestsPerSecond'] as const) {
      const v = limits[f];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw networkError(NetworkErrorCode.INVALID_OPTIONS, `limits.${f}: expected a positive number`, { protocol });
      }
    }
    const maxStreams = limits.maxStreamsPerPeer ?? MAX_STREAMS_PER_PROTOCOL;
    if (!Number.isSafeInteger(maxStreams) || maxStreams < 2) {
      throw networkError(NetworkErrorCode.INVALID_OPTIONS, 'limits.maxStreamsPerPeer: expected an integer >= 2', {
        protocol,
      });
    }
    if (this.handlers.has(protocol)) {
      throw networkError(NetworkErrorCode.ALREADY_HANDLED, `protocol ${protocol} already has a handler`, { protocol });
    }
    this.handlers.set(protocol, {
      handler,
      limits,
      limiter: new TokenBuckets(limits.requestsPerSecond),
      openStreams: new KeyedCounter(maxStreams),
    });
    if (this.node !== undefined) await this.attachProtocol(this.node, protocol);
  }

  async request(
    peerId: string,
    protocol: string,
    data: Uint8Array,
    opts: { signal: AbortSignal; maxResponseBytes: number; keepStream?: boolean },
  ): Promise<Uint8Array> {
    const node = this.requireStarted();
    const id = parsePeerId(peerId);
    const meta = { peerId, protocol };
    if (this.gate.isBlocked(peerId)) throw networkError(NetworkErrorCode.PEER_BLOCKED, 'peer is blocked', meta);
    if (!this.gate.isAllowed(id)) throw networkError(NetworkErrorCode.PEER_NOT_ALLOWED, 'peer is not allowed', meta);
    if (opts.signal.aborted) throw abortError(opts.signal, 'request');
    const t0 = performance.now();
    const key = `${peerId} ${protocol}`;
    const open = (signal: AbortSignal) =>
      node.dialProtocol(id, protocol, { signal, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL });
    // Half the peer's bound (the same code serves there): its count of a stream lags our close.
    const served = this.handlers.get(protocol);
    const max = served ? Math.floor((served.limits.maxStreamsPerPeer ?? MAX_STREAMS_PER_PROTOCOL) / 2) : undefined;
    const release = await this.outboundSlots.acquire(key, opts.signal, max);
    try {
      let response: Uint8Array;
      if (opts.keepStream) {
        let kept = this.keptStreams.get(key);
        if (!kept) this.keptStreams.set(key, (kept = new KeptStream(open, meta)));
        response = await kept.request(data, opts);
      } else {
        response = await sendRequest(open, data, opts, meta);
      }
      this.metrics?.requestSent?.(protocol, 'ok', (performance.now() - t0) / 1000);
      return response;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const outcome =
        code === NetworkErrorCode.REMOTE_ERROR
          ? 'error'
          : code === NetworkErrorCode.RESPONSE_TOO_LARGE
            ? 'too_large'
            : 'aborted';
      this.metrics?.requestSent?.(protocol, outcome, (performance.now() - t0) / 1000);
      throw err;
    } finally {
      release();
    }
  }

  connectedPeers(): PeerInfo[] {
    const node = this.node;
    if (node === undefined) return [];
    const byPeer = new Map<string, PeerInfo>();
    for (const conn of node.getConnections()) {
      if (conn.status !== 'open') continue;
      const publicKey = publicKeyHexOf(conn.remotePeer);
      if (publicKey === undefined) continue;
      const id = conn.remotePeer.toString();
      const info = byPeer.get(id) ?? { peerId: id, publicKey, addrs: [] };
      info.addrs.push(conn.remoteAddr.toString());
      byPeer.set(id, info);
    }
    return [...byPeer.values()];
  }

  setAllowedKeys(publicKeysHex: Iterable<string>): void {
    const keys = [...publicKeysHex].map((k) => k.toLowerCase());
    this.gate.setAllowedKeys(keys);
    this.log.info({ allowed: keys.length }, 'allowed node keys replaced');
    this.dropUnadmitted('no longer allowed');
  }

  blockPeers(peerIds: Iterable<string>): void {
    const ids = [...peerIds];
    const healed = this.gate.setBlocked(ids);
    this.log.info({ blocked: ids, healed }, 'fault layer: blocked peers replaced');
    this.dropUnadmitted('blocked');
    const node = this.node;
    if (node === undefined) return;
    // Heal promptly rather than at the next redial tick; non-bootstrap peers are dialled by id.
    this.redial();
    for (const p of healed) {
      let id: PeerId;
      try {
        id = parsePeerId(p);
      } catch {
        continue;
      }
      if (!this.gate.admits(id) || node.getConnections(id).length > 0) continue;
      if (this.bootstrap.some((b) => b.peerId.equals(id))) continue;
      node.dial(id, { signal: this.dialSignal() }).catch((err: unknown) => {
        this.log.debug({ peer: p, err: errorMessage(err) }, 'redial after heal failed');
      });
    }
  }

  /** Peers we know to be subscribed to `topic` (a publish reaches them directly). */
  topicPeers(topic: string): string[] {
    const node = this.node;
    if (node === undefined) return [];
    return node.services.pubsub.getSubscribers(topic).map((p) => p.toString());
  }

  /** Gossipsub's score for a peer (diagnostics and tests); undefined when not started. */
  gossipScore(peerId: string): number | undefined {
    const pubsub = this.node?.services.pubsub as GossipSubWithScore | undefined;
    return pubsub?.getScore?.(peerId);
  }

  /** The underlying libp2p node, for tests and diagnostics only. @internal */
  get libp2p(): Libp2p | undefined {
    return this.node;
  }

  private requireStarted(): Node {
    if (this.node === undefined) throw networkError(NetworkErrorCode.NOT_STARTED, 'network is not started');
    return this.node;
  }

  private maxMessageBytes(topic: string): number {
    return this.opts.maxMessageBytes[topic] ?? this.opts.defaultMaxMessageBytes;
  }

  private dialSignal(): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(this.opts.dialTimeoutMs), this.stopController.signal]);
  }

  private attachTopic(node: Node, topic: string): void {
    const sub = this.subscriptions.get(topic)!;
    const pubsub = node.services.pubsub as GossipSubWithScore;
    // Score every topic we subscribe to, including ones the options did not list.
    const scored = pubsub.score?.params?.topics;
    if (scored !== undefined && scored[topic] === undefined) scored[topic] = createTopicScoreParams(topicScoreParams());
    pubsub.topicValidators.set(
      topic,
      createTopicValidator({
        topic,
        maxBytes: this.maxMessageBytes(topic),
        maxPending: this.opts.maxPendingValidations,
        validate: sub.validate,
        isBlocked: (p) => this.gate.isBlocked(p),
        log: this.log,
        metrics: this.metrics,
      }),
    );
    pubsub.subscribe(topic);
  }

  private async attachProtocol(node: Node, protocol: string): Promise<void> {
    const h = this.handlers.get(protocol)!;
    await node.handle(
      protocol,
      (stream, connection) =>
        serveStream(stream, connection, {
          protocol,
          handler: h.handler,
          limits: h.limits,
          limiter: h.limiter,
          openStreams: h.openStreams,
          admits: (p) => this.gate.admits(p),
          timeoutMs: this.opts.requestHandlerTimeoutMs,
          stopSignal: this.stopController.signal,
          log: this.log,
          metrics: this.metrics,
        }),
      { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL },
    );
  }

  private readonly onGossip = (evt: CustomEvent<GossipsubMessage>): void => {
    const { msg, propagationSource } = evt.detail;
    const sub = this.subscriptions.get(msg.topic);
    if (sub === undefined) return;
    try {
      // A handler typed void may still be async: never let its rejection escape.
      const r = sub.handle(plain(msg.data), propagationSource.toString()) as unknown;
      if (r instanceof Promise) {
        r.catch((err: unknown) =>
          this.log.error({ topic: msg.topic, err: errorMessage(err) }, 'gossip handler failed'),
        );
      }
    } catch (err) {
      this.log.error({ topic: msg.topic, err: errorMessage(err) }, 'gossip handler threw');
    }
  };

  private readonly onPeerConnect = (evt: CustomEvent<PeerId>): void => {
    this.log.debug({ peer: evt.detail.toString() }, 'peer connected');
    this.metrics?.peersChanged?.(this.node?.getPeers().length ?? 0);
  };

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString();
    this.log.debug({ peer: id }, 'peer disconnected');
    this.metrics?.peersChanged?.(this.node?.getPeers().length ?? 0);
    // A healthy connection dropped (the remote had admitted us): try once right away rather than
    // at the next tick. A refused one never got identified, so it waits for the interval.
    if (this.identified.delete(id)) {
      const b = this.bootstrap.find((p) => p.peerId.equals(evt.detail));
      if (b !== undefined) this.redialPeer(b);
    }
  };

  private readonly onPeerIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    this.identified.add(evt.detail.peerId.toString());
  };

  /** Closes connections to peers the gate no longer admits. */
  private dropUnadmitted(why: string): void {
    const node = this.node;
    if (node === undefined) return;
    const seen = new Set<string>();
    for (const conn of node.getConnections()) {
      const id = conn.remotePeer.toString();
      if (seen.has(id) || this.gate.admits(conn.remotePeer)) continue;
      seen.add(id);
      this.log.info({ peer: id, why }, 'disconnecting peer');
      node.hangUp(conn.remotePeer).catch((err: unknown) => {
        this.log.debug({ peer: id, err: errorMessage(err) }, 'hang up failed');
      });
    }
  }

  /** Dials bootstrap peers that are admitted but not connected. */
  private redial(): void {
    if (this.node === undefined) return;
    for (const h of this.handlers.values()) h.limiter.prune();
    for (const b of this.bootstrap) this.redialPeer(b);
  }

  /** One dial per peer at a time; skipped when blocked, not allowed or already connected. */
  private redialPeer(b: BootstrapPeer): void {
    const node = this.node;
    const id = b.peerId.toString();
    if (node === undefined || id === this.peerId || this.dialing.has(id) || !this.gate.admits(b.peerId)) return;
    if (node.getConnections(b.peerId).some((c) => c.status === 'open')) return;
    this.dialing.add(id);
    node
      .dial(b.addr, { signal: this.dialSignal() })
      .then(() => this.log.debug({ peer: id }, 'dialled bootstrap peer'))
      .catch((err: unknown) => this.log.trace({ peer: id, err: errorMessage(err) }, 'bootstrap dial failed'))
      .finally(() => this.dialing.delete(id));
  }
}

/** Creates the network service (not started). */
export function createNetwork(opts: NetworkOptions, modules: NetworkModules = {}): Libp2pNetwork {
  return new Libp2pNetwork(opts, modules);
}
