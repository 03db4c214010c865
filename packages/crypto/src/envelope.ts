import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { MedLedgerError, toHex } from '@medledger/types';
import { CryptoErrorCode } from './errors.js';

/**
 * Envelope encryption of documents (DESIGN §5, ADR 0006), all through OpenSSL (`node:crypto`):
 *
 * - a document is sealed with a fresh 32-byte data key: AES-256-GCM, random 96-bit nonce,
 *   associated data binding it to its record id. Sealed form: `0x01 ‖ nonce(12) ‖ ct ‖ tag(16)`.
 * - the data key is wrapped for each recipient's x25519 public key: an ephemeral x25519 key,
 *   ECDH, HKDF-SHA256 (salt = ephemeral ‖ recipient public key, info = tag ‖ context) and
 *   AES-256-GCM over the data key. Wrapped form: `0x01 ‖ ephemeral(32) ‖ nonce(12) ‖ ct(32) ‖ tag(16)`.
 *
 * A wrapped key opens only with the recipient's secret key and only for the context (record)
 * it was made for; any changed byte of a sealed document or a wrapped key fails its tag check.
 */
export const ENC_KEY_BYTES = 32;
export const DATA_KEY_BYTES = 32;
const VERSION = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const WRAPPED_KEY_BYTES = 1 + ENC_KEY_BYTES + NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES;
/** Bytes a sealed document adds to its plaintext. */
export const SEAL_OVERHEAD_BYTES = 1 + NONCE_BYTES + TAG_BYTES;

const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const WRAP_INFO = Buffer.from('medledger/wrap/1');
const DOC_AAD = 'medledger/doc/1:';

export interface X25519KeyPair {
  publicKey: Uint8Array;
  /** 32-byte x25519 private scalar. Never logged. */
  secretKey: Uint8Array;
}

const decryptFailed = (what: string) => new MedLedgerError(CryptoErrorCode.DECRYPT_FAILED, `${what} does not open`);

function rawPublic(key: KeyObject): Uint8Array {
  const spki = key.export({ format: 'der', type: 'spki' });
  return new Uint8Array(spki.subarray(spki.length - ENC_KEY_BYTES));
}

function x25519Private(secretKey: Uint8Array): KeyObject {
  if (!(secretKey instanceof Uint8Array) || secretKey.length !== ENC_KEY_BYTES) {
    throw new MedLedgerError(CryptoErrorCode.BAD_KEY, 'x25519 secret key must be 32 bytes');
  }
  return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, secretKey]), format: 'der', type: 'pkcs8' });
}

function x25519Public(publicKey: Uint8Array): KeyObject {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ENC_KEY_BYTES) {
    throw new MedLedgerError(CryptoErrorCode.BAD_KEY, 'x25519 public key must be 32 bytes');
  }
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
}

export function generateEncKeyPair(): X25519KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const pkcs8 = privateKey.export({ format: 'der', type: 'pkcs8' });
  return { publicKey: rawPublic(publicKey), secretKey: new Uint8Array(pkcs8.subarray(pkcs8.length - ENC_KEY_BYTES)) };
}

export function encPublicKeyFromSecret(secretKey: Uint8Array): Uint8Array {
  return rawPublic(createPublicKey(x25519Private(secretKey)));
}

export function generateDataKey(): Uint8Array {
  return new Uint8Array(randomBytes(DATA_KEY_BYTES));
}

/** Associated data of a document: the ciphertext of one record cannot pass as another's. */
export function documentAad(record: string): Uint8Array {
  return new Uint8Array(Buffer.from(DOC_AAD + record, 'utf8'));
}

function gcmSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer[] {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return [ct, cipher.getAuthTag()];
}

function gcmOpen(key: Uint8Array, nonce: Uint8Array, ct: Uint8Array, tag: Uint8Array, aad: Uint8Array): Uint8Array {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  return new Uint8Array(Buffer.concat([decipher.update(ct), decipher.final()]));
}

function checkDataKey(dataKey: Uint8Array): void {
  if (!(dataKey instanceof Uint8Array) || dataKey.length !== DATA_KEY_BYTES) {
    throw new MedLedgerError(CryptoErrorCode.BAD_KEY, 'data key must be 32 bytes');
  }
}

/** AES-256-GCM with a fresh nonce: `0x01 ‖ nonce ‖ ciphertext ‖ tag`. */
export function sealDocument(plaintext: Uint8Array, dataKey: Uint8Array, aad: Uint8Array): Uint8Array {
  checkDataKey(dataKey);
  const nonce = randomBytes(NONCE_BYTES);
  const [ct, tag] = gcmSeal(dataKey, nonce, plaintext, aad);
  return new Uint8Array(Buffer.concat([Buffer.from([VERSION]), nonce, ct!, tag!]));
}

/** Throws CRYPTO_DECRYPT_FAILED for a wrong key, wrong associated data or any changed byte. */
export function openDocument(sealed: Uint8Array, dataKey: Uint8Array, aad: Uint8Array): Uint8Array {
  checkDataKey(dataKey);
  if (sealed.length < SEAL_OVERHEAD_BYTES || sealed[0] !== VERSION) throw decryptFailed('document');
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const ct = sealed.subarray(1 + NONCE_BYTES, sealed.length - TAG_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  try {
    return gcmOpen(dataKey, nonce, ct, tag, aad);
  } catch {
    throw decryptFailed('document');
  }
}

function kek(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array, context: Uint8Array): Uint8Array {
  // An all-zero shared secret means a low-order public key: refuse rather than derive from it.
  if (shared.every((b) => b === 0)) throw new MedLedgerError(CryptoErrorCode.BAD_KEY, 'x25519 key is low order');
  const salt = Buffer.concat([ephemeral, recipient]);
  return new Uint8Array(hkdfSync('sha256', shared, salt, Buffer.concat([WRAP_INFO, context]), 32));
}

function sharedSecret(privateKey: KeyObject, publicKey: KeyObject): Uint8Array {
  try {
    return new Uint8Array(diffieHellman({ privateKey, publicKey }));
  } catch {
    throw new MedLedgerError(CryptoErrorCode.BAD_KEY, 'x25519 key agreement failed');
  }
}

/** Wraps `dataKey` for `recipient` (an x25519 public key), bound to `context` (e.g. a record id). */
export function wrapDataKey(dataKey: Uint8Array, recipient: Uint8Array, context: Uint8Array): Uint8Array {
  checkDataKey(dataKey);
  const recipientKey = x25519Public(recipient);
  const eph = generateKeyPairSync('x25519');
  const ephPublic = rawPublic(eph.publicKey);
  const key = kek(sharedSecret(eph.privateKey, recipientKey), ephPublic, recipient, context);
  const nonce = randomBytes(NONCE_BYTES);
  const [ct, tag] = gcmSeal(key, nonce, dataKey, Buffer.concat([ephPublic, recipient, context]));
  key.fill(0);
  return new Uint8Array(Buffer.concat([Buffer.from([VERSION]), ephPublic, nonce, ct!, tag!]));
}

/**
 * A recipient's x25519 private key held in a KeyObject (as `Signer` holds an ed25519 key), so
 * unwrapping does not rebuild it and the raw scalar need not stay around.
 */
export class EncKey {
  readonly publicKey: Uint8Array;
  readonly #key: KeyObject;

  constructor(secretKey: Uint8Array) {
    this.#key = x25519Private(secretKey);
    this.publicKey = rawPublic(createPublicKey(this.#key));
  }

  /** The data key inside `wrapped`; throws CRYPTO_DECRYPT_FAILED when it is not for this key and context. */
  unwrap(wrapped: Uint8Array, context: Uint8Array): Uint8Array {
    if (!(wrapped instanceof Uint8Array) || wrapped.length !== WRAPPED_KEY_BYTES || wrapped[0] !== VERSION) {
      throw decryptFailed('wrapped key');
    }
    const ephPublic = wrapped.subarray(1, 1 + ENC_KEY_BYTES);
    const nonce = wrapped.subarray(1 + ENC_KEY_BYTES, 1 + ENC_KEY_BYTES + NONCE_BYTES);
    const ct = wrapped.subarray(1 + ENC_KEY_BYTES + NONCE_BYTES, wrapped.length - TAG_BYTES);
    const tag = wrapped.subarray(wrapped.length - TAG_BYTES);
    let key: Uint8Array;
    try {
      key = kek(sharedSecret(this.#key, x25519Public(ephPublic)), ephPublic, this.publicKey, context);
    } catch {
      throw decryptFailed('wrapped key');
    }
    try {
      return gcmOpen(key, nonce, ct, tag, Buffer.concat([ephPublic, this.publicKey, context]));
    } catch {
      throw decryptFailed('wrapped key');
    } finally {
      key.fill(0);
    }
  }

  /** Keeps the key out of logs and JSON dumps. */
  toJSON(): string {
    return `EncKey(${toHex(this.publicKey)})`;
  }
}

export function unwrapDataKey(wrapped: Uint8Array, secretKey: Uint8Array, context: Uint8Array): Uint8Array {
  return new EncKey(secretKey).unwrap(wrapped, context);
}

export interface EncryptedDocument {
  /** The sealed document: what is stored, served and hashed into the record's contentHash. */
  ciphertext: Uint8Array;
  /** One wrapped data key per recipient, in the order given. */
  wrappedKeys: Uint8Array[];
}

/**
 * Seals `plaintext` for `record` under a fresh data key and wraps that key for every recipient.
 * The data key exists only inside this call.
 */
export function encryptDocument(
  plaintext: Uint8Array,
  record: string,
  recipients: readonly Uint8Array[],
): EncryptedDocument {
  if (recipients.length === 0) throw new MedLedgerError(CryptoErrorCode.BAD_KEY, 'a document needs a recipient');
  const dataKey = generateDataKey();
  try {
    const context = documentAad(record);
    const ciphertext = sealDocument(plaintext, dataKey, context);
    return { ciphertext, wrappedKeys: recipients.map((r) => wrapDataKey(dataKey, r, context)) };
  } finally {
    dataKey.fill(0);
  }
}

/** Opens a document of `record` with the recipient's key and its wrapped data key. */
export function decryptDocument(
  ciphertext: Uint8Array,
  wrappedKey: Uint8Array,
  key: EncKey | Uint8Array,
  record: string,
): Uint8Array {
  const encKey = key instanceof EncKey ? key : new EncKey(key);
  const context = documentAad(record);
  const dataKey = encKey.unwrap(wrappedKey, context);
  try {
    return openDocument(ciphertext, dataKey, context);
  } finally {
    dataKey.fill(0);
  }
}

/** Unwraps with `holder` and wraps the same data key for `recipient`: how a holder serves a grantee. */
export function rewrapDataKey(wrapped: Uint8Array, holder: EncKey, recipient: Uint8Array, record: string): Uint8Array {
  const context = documentAad(record);
  const dataKey = holder.unwrap(wrapped, context);
  try {
    return wrapDataKey(dataKey, recipient, context);
  } finally {
    dataKey.fill(0);
  }
}
