import { privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys';
import { peerIdFromPublicKey, peerIdFromString } from '@libp2p/peer-id';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { publicKeyFromSecret } from '@medledger/crypto';
import { toHex } from '@medledger/types';
import { NetworkErrorCode, networkError } from './errors.js';

const ED25519_KEY_BYTES = 32;

/** The libp2p private key for a node key seed (libp2p's raw ed25519 form is seed || public key). */
export function privateKeyFromNodeKey(seed: Uint8Array): PrivateKey {
  if (seed.length !== ED25519_KEY_BYTES)
    throw networkError(NetworkErrorCode.INVALID_KEY, 'node key must be a 32-byte seed');
  const raw = new Uint8Array(64);
  raw.set(seed, 0);
  raw.set(publicKeyFromSecret(seed), 32);
  return privateKeyFromRaw(raw);
}

/** The peer id string (`12D3KooW...`) of an ed25519 node public key. */
export function peerIdFromNodePublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== ED25519_KEY_BYTES) {
    throw networkError(NetworkErrorCode.INVALID_KEY, 'node public key must be 32 bytes');
  }
  return peerIdFromPublicKey(publicKeyFromRaw(publicKey)).toString();
}

/** Parses a peer id string; throws NETWORK_INVALID_PEER_ID for anything that is not an ed25519 peer id. */
export function parsePeerId(peerId: string): PeerId {
  let id: PeerId;
  try {
    id = peerIdFromString(peerId);
  } catch {
    throw networkError(NetworkErrorCode.INVALID_PEER_ID, 'not a peer id', { peerId });
  }
  if (id.type !== 'Ed25519') {
    throw networkError(NetworkErrorCode.INVALID_PEER_ID, 'peer id is not an ed25519 key', { peerId });
  }
  return id;
}

/** The 32-byte ed25519 public key embedded in a peer id. */
export function publicKeyFromPeerId(peerId: string): Uint8Array {
  const id = parsePeerId(peerId);
  return id.publicKey!.raw;
}

/** Hex public key of a peer, or undefined when it is not an ed25519 peer (such peers are never admitted). */
export function publicKeyHexOf(peerId: PeerId): string | undefined {
  return peerId.type === 'Ed25519' ? toHex(peerId.publicKey.raw) : undefined;
}
