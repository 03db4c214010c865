import { createServer } from 'node:net';
import { generateKeyPair, type Ed25519KeyPair } from '@medledger/crypto';
import { toHex } from '@medledger/types';
import {
  createNetwork,
  peerIdFromNodePublicKey,
  testNetworkOptions,
  type Libp2pNetwork,
  type NetworkOptions,
} from '../src/index.js';

export interface TestPeer {
  key: Ed25519KeyPair;
  peerId: string;
  publicKeyHex: string;
  port: number;
  addr: string;
}

/** Whether `port` can be listened on at loopback now (bound and released). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A free TCP port on loopback for a node that listens on it later (restart tests need a fixed
 * one). Taken below Linux's ephemeral range (32768 and up): a port the OS handed out there can
 * be given to another process's outgoing connection before the node listens (EADDRINUSE seen
 * in the full run). The e2e tests use 20000–32000, so these stay under 20000.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * 10_000);
    if (await canListen(port)) return port;
  }
}

export async function makePeers(n: number): Promise<TestPeer[]> {
  const peers: TestPeer[] = [];
  for (let i = 0; i < n; i++) {
    const key = generateKeyPair();
    const port = await freePort();
    const peerId = peerIdFromNodePublicKey(key.publicKey);
    peers.push({
      key,
      peerId,
      publicKeyHex: toHex(key.publicKey),
      port,
      addr: `/ip4/127.0.0.1/tcp/${port}/p2p/${peerId}`,
    });
  }
  return peers;
}

/** A network for `self`, allowing `allowed` (default: every peer) and bootstrapping to `bootstrap` (default: the others). */
export function makeNetwork(
  self: TestPeer,
  peers: TestPeer[],
  extra: Partial<NetworkOptions> & { allowed?: TestPeer[]; bootstrapTo?: TestPeer[] } = {},
): Libp2pNetwork {
  const { allowed = peers, bootstrapTo = peers.filter((p) => p !== self), ...rest } = extra;
  return createNetwork({
    ...testNetworkOptions,
    nodeKey: self.key.secretKey,
    listen: `/ip4/127.0.0.1/tcp/${self.port}`,
    bootstrap: bootstrapTo.filter((p) => p !== self).map((p) => p.addr),
    allowedKeys: allowed.map((p) => p.publicKeyHex),
    ...rest,
  });
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 8000,
  intervalMs = 25,
): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if (await cond()) return performance.now() - t0;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Holds for `ms`: fails as soon as `cond` becomes true. For "this never happens" checks. */
export async function never(cond: () => boolean, what: string, ms: number): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (cond()) throw new Error(`unexpected: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function connected(a: Libp2pNetwork, b: { peerId: string }): boolean {
  return a.connectedPeers().some((p) => p.peerId === b.peerId);
}

export async function stopAll(nets: Array<Libp2pNetwork | undefined>): Promise<void> {
  await Promise.allSettled(nets.map((n) => n?.stop()));
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
