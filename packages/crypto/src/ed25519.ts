import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import sodium from 'sodium-native';
import { MedLedgerError, toHex } from '@medledger/types';
import { CryptoErrorCode } from './errors.js';
import { sha256 } from './hash.js';

/**
 * Keys and signing through OpenSSL (`node:crypto`); verification, the hot path, through
 * libsodium: 2.2x faster than OpenSSL 3's EVP path on this machine, and its stricter rules are
 * the chain's signature rule (ADR 0009).
 */
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

export interface Ed25519KeyPair {
  publicKey: Uint8Array;
  /** The 32-byte seed. Never logged. */
  secretKey: Uint8Array;
}

export function generateKeyPair(): Ed25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return {
    publicKey: new Uint8Array(spki.subarray(spki.length - 32)),
    secretKey: new Uint8Array(pkcs8.subarray(pkcs8.length - 32)),
  };
}

export function publicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
  const spki = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - 32));
}

function privateKeyObject(secretKey: Uint8Array): KeyObject {
  if (secretKey.length !== SECRET_KEY_BYTES)
    throw new MedLedgerError(CryptoErrorCode.BAD_KEY, 'secret key must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
}

/** Holds a private key object so signing does not rebuild it each time. */
export class Signer {
  readonly publicKey: Uint8Array;
  readonly address: Uint8Array;
  readonly #key: KeyObject;

  constructor(secretKey: Uint8Array) {
    this.#key = privateKeyObject(secretKey);
    this.publicKey = publicKeyFromSecret(secretKey);
    this.address = addressOf(this.publicKey);
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.#key));
  }

  /** Keeps the key out of logs and JSON dumps. */
  toJSON(): string {
    return `Signer(${toHex(this.address)})`;
  }
}

/**
 * Returns false (never throws) for a malformed key or signature. Every signature a node checks
 * (txs, votes, commits, documents) goes through here, so all nodes apply the same rule.
 */
export function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  return sodium.crypto_sign_verify_detached(signature, message, publicKey);
}

/** An account's address: the first 20 bytes of sha256(public key). Shared: do not modify it. */
export function addressOf(publicKey: Uint8Array): Uint8Array {
  return rememberedAddress(publicKey).bytes;
}

export function addressHex(publicKey: Uint8Array): string {
  return rememberedAddress(publicKey).hex;
}

/**
 * Senders recur, and a node needs each tx's sender address several times (pool, checks,
 * execution): a lookup costs a fifth of the hash. Emptied when full rather than kept in LRU order.
 */
const ADDRESS_MEMO_MAX = 10_000;
const addressMemo = new Map<string, { bytes: Uint8Array; hex: string }>();

function rememberedAddress(publicKey: Uint8Array): { bytes: Uint8Array; hex: string } {
  const id = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('latin1');
  let address = addressMemo.get(id);
  if (!address) {
    if (addressMemo.size >= ADDRESS_MEMO_MAX) addressMemo.clear();
    const bytes = sha256(publicKey).subarray(0, 20);
    address = { bytes, hex: toHex(bytes) };
    addressMemo.set(id, address);
  }
  return address;
}
