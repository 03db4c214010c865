/**
 * The network contract: libp2p underneath, bytes in and out. The network layer knows topics,
 * protocols, limits and peers; it knows nothing about what a message means. The node registers
 * validators for gossip and handlers for request/response protocols.
 */
export const GossipVerdict = { Accept: 'accept', Ignore: 'ignore', Reject: 'reject' } as const;
export type GossipVerdict = (typeof GossipVerdict)[keyof typeof GossipVerdict];

/** Validates a gossip message before it is delivered and forwarded. Must not throw; a throw counts as reject. */
export type GossipValidator = (data: Uint8Array, from: string) => GossipVerdict | Promise<GossipVerdict>;
/** Receives messages that were accepted. */
export type GossipHandler = (data: Uint8Array, from: string) => void;

/** Answers one request; the returned bytes are the response. Throwing sends an error frame. */
export type RequestHandler = (request: Uint8Array, from: string, signal: AbortSignal) => Promise<Uint8Array>;

export interface ProtocolLimits {
  maxRequestBytes: number;
  maxResponseBytes: number;
  /** Requests a single peer may make per second before being refused. */
  requestsPerSecond: number;
  /**
   * Streams of this protocol one peer may have open at once, over all its connections; more are
   * reset. Bounds what one peer can make this node buffer (requests read, answers not yet
   * taken). This node's own requests use at most half, which leaves room for streams the other
   * side has not closed yet. Default 64.
   */
  maxStreamsPerPeer?: number;
}

export interface PeerInfo {
  peerId: string;
  /** ed25519 public key behind the peer id, hex. */
  publicKey: string;
  addrs: string[];
}

export interface NetworkService {
  readonly peerId: string;
  /** The addresses we listen on, with /p2p/<peerId>. */
  listenAddrs(): string[];
  start(): Promise<void>;
  stop(): Promise<void>;
  subscribe(topic: string, validate: GossipValidator, handle: GossipHandler): void;
  publish(topic: string, data: Uint8Array): Promise<void>;
  handle(protocol: string, handler: RequestHandler, limits: ProtocolLimits): Promise<void>;
  /**
   * One request, one response. `keepStream`: send on a stream kept open for this peer and
   * protocol, after that stream's earlier requests (for frequent requests: no stream setup each).
   */
  request(
    peerId: string,
    protocol: string,
    data: Uint8Array,
    opts: { signal: AbortSignal; maxResponseBytes: number; keepStream?: boolean },
  ): Promise<Uint8Array>;
  connectedPeers(): PeerInfo[];
  /** Replace the set of node public keys (hex) allowed to connect; others are refused and disconnected. */
  setAllowedKeys(publicKeysHex: Iterable<string>): void;
  /**
   * Fault layer for partition tests: drop all traffic with these peers (connections refused and
   * closed, gossip from them ignored) until replaced by another call. An empty list heals.
   */
  blockPeers(peerIds: Iterable<string>): void;
}
