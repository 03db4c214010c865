import { NetworkErrorCode, networkError } from './errors.js';

export interface NetworkOptions {
  /** 32-byte ed25519 seed: the libp2p identity here and, elsewhere, the consensus signing key. */
  nodeKey: Uint8Array;
  /** TCP listen multiaddr, e.g. `/ip4/127.0.0.1/tcp/27000` (port 0 picks a free port). */
  listen: string;
  /** Peers to stay connected to: multiaddrs ending in `/p2p/<peerId>`. */
  bootstrap?: string[];
  /** Hex ed25519 public keys of the consortium's node keys; no other peer may connect. */
  allowedKeys?: Iterable<string>;
  /** Largest gossip message accepted, per topic; topics not listed use `defaultMaxMessageBytes`. */
  maxMessageBytes?: Record<string, number>;
  defaultMaxMessageBytes?: number;
  /** Validations in flight per topic; messages beyond it are ignored so a flood cannot grow memory. */
  maxPendingValidations?: number;
  /** How often disconnected bootstrap peers are redialled. */
  redialIntervalMs?: number;
  /** Bound on one dial attempt. */
  dialTimeoutMs?: number;
  /** Bound on one inbound request, from stream open to response written. */
  requestHandlerTimeoutMs?: number;
  maxConnections?: number;
  /** Gossipsub heartbeat (mesh maintenance, gossip emission). */
  gossipHeartbeatMs?: number;
}

export type ResolvedNetworkOptions = Required<Omit<NetworkOptions, 'allowedKeys'>> & { allowedKeys: string[] };

export const defaultNetworkOptions = {
  bootstrap: [] as string[],
  allowedKeys: [] as string[],
  maxMessageBytes: {} as Record<string, number>,
  // A proposal carries a whole block; the node's block size limit sits below this.
  defaultMaxMessageBytes: 1024 * 1024,
  maxPendingValidations: 1024,
  redialIntervalMs: 2000,
  dialTimeoutMs: 5000,
  requestHandlerTimeoutMs: 30_000,
  maxConnections: 300,
  gossipHeartbeatMs: 1000,
} as const;

/** Faster redial and heartbeat for tests on loopback. */
export const testNetworkOptions: Partial<NetworkOptions> = {
  redialIntervalMs: 300,
  dialTimeoutMs: 2000,
  requestHandlerTimeoutMs: 5000,
  gossipHeartbeatMs: 200,
};

export function resolveNetworkOptions(opts: NetworkOptions): ResolvedNetworkOptions {
  const resolved: ResolvedNetworkOptions = {
    nodeKey: opts.nodeKey,
    listen: opts.listen,
    bootstrap: [...(opts.bootstrap ?? defaultNetworkOptions.bootstrap)],
    allowedKeys: [...(opts.allowedKeys ?? defaultNetworkOptions.allowedKeys)].map((k) => k.toLowerCase()),
    maxMessageBytes: { ...(opts.maxMessageBytes ?? defaultNetworkOptions.maxMessageBytes) },
    defaultMaxMessageBytes: opts.defaultMaxMessageBytes ?? defaultNetworkOptions.defaultMaxMessageBytes,
    maxPendingValidations: opts.maxPendingValidations ?? defaultNetworkOptions.maxPendingValidations,
    redialIntervalMs: opts.redialIntervalMs ?? defaultNetworkOptions.redialIntervalMs,
    dialTimeoutMs: opts.dialTimeoutMs ?? defaultNetworkOptions.dialTimeoutMs,
    requestHandlerTimeoutMs: opts.requestHandlerTimeoutMs ?? defaultNetworkOptions.requestHandlerTimeoutMs,
    maxConnections: opts.maxConnections ?? defaultNetworkOptions.maxConnections,
    gossipHeartbeatMs: opts.gossipHeartbeatMs ?? defaultNetworkOptions.gossipHeartbeatMs,
  };
  validateNetworkOptions(resolved);
  return resolved;
}

const HEX_KEY = /^[0-9a-f]{64}$/;

export function validateNetworkOptions(o: ResolvedNetworkOptions): void {
  const fail = (field: string, expected: string): never => {
    throw networkError(NetworkErrorCode.INVALID_OPTIONS, `network.${field}: expected ${expected}`, { field });
  };
  if (!(o.nodeKey instanceof Uint8Array) || o.nodeKey.length !== 32) fail('nodeKey', 'a 32-byte ed25519 seed');
  if (typeof o.listen !== 'string' || !o.listen.includes('/tcp/')) fail('listen', 'a TCP multiaddr');
  for (const b of o.bootstrap) {
    if (typeof b !== 'string' || !b.includes('/p2p/')) fail('bootstrap', 'multiaddrs ending in /p2p/<peerId>');
  }
  for (const k of o.allowedKeys) if (!HEX_KEY.test(k)) fail('allowedKeys', '64-char hex ed25519 public keys');
  const positive: Array<keyof ResolvedNetworkOptions> = [
    'defaultMaxMessageBytes',
    'maxPendingValidations',
    'redialIntervalMs',
    'dialTimeoutMs',
    'requestHandlerTimeoutMs',
    'maxConnections',
    'gossipHeartbeatMs',
  ];
  for (const f of positive) {
    const v = o[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(f, 'a positive number');
  }
  for (const [topic, v] of Object.entries(o.maxMessageBytes)) {
    if (!Number.isInteger(v) || v <= 0) fail(`maxMessageBytes[${topic}]`, 'a positive integer');
  }
}
