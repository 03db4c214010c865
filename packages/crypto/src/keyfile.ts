import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { MedLedgerError, bytesEqual, fromHex, isRecord, toHex } from '@medledger/types';
import { publicKeyFromSecret, type Ed25519KeyPair } from './ed25519.js';
import { encPublicKeyFromSecret } from './envelope.js';
import { CryptoErrorCode } from './errors.js';

/**
 * Key files (ADR 0003). A key file is JSON holding one ed25519 key. Encrypted files wrap the
 * seed with AES-256-GCM under a key derived by scrypt from a passphrase; the public key and
 * address stay readable so an operator can tell which key a file holds without unlocking it.
 * Unencrypted files are for development networks only; reading one is reported to the caller
 * so it can warn.
 */
export const PASSPHRASE_ENV = 'MEDLEDGER_KEY_PASSPHRASE';
export const PASSPHRASE_FILE_ENV = 'MEDLEDGER_KEY_PASSPHRASE_FILE';

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

/** Signing keys are ed25519; document encryption keys (ADR 0006) are x25519, in the same file format. */
export type KeyFileType = 'ed25519' | 'x25519';

interface PlainKeyFile {
  version: 1;
  type: KeyFileType;
  publicKey: string;
  secretKey: string;
}

interface EncryptedKeyFile {
  version: 1;
  type: KeyFileType;
  publicKey: string;
  crypto: {
    kdf: 'scrypt';
    n: number;
    r: number;
    p: number;
    salt: string;
    cipher: 'aes-256-gcm';
    iv: string;
    ciphertext: string;
    tag: string;
  };
}

export interface LoadedKey extends Ed25519KeyPair {
  encrypted: boolean;
}

/** Writes atomically (temp file + rename) with owner-only permissions. */
export function writeKeyFile(
  path: string,
  key: Ed25519KeyPair,
  passphrase?: string,
  type: KeyFileType = 'ed25519',
): void {
  let file: PlainKeyFile | EncryptedKeyFile;
  if (passphrase) {
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const kek = scryptSync(passphrase, salt, 32, SCRYPT);
    const cipher = createCipheriv('aes-256-gcm', kek, iv);
    cipher.setAAD(Buffer.from(key.publicKey));
    const ciphertext = Buffer.concat([cipher.update(key.secretKey), cipher.final()]);
    file = {
      version: 1,
      type,
      publicKey: toHex(key.publicKey),
      crypto: {
        kdf: 'scrypt',
        n: SCRYPT.N,
        r: SCRYPT.r,
        p: SCRYPT.p,
        salt: salt.toString('hex'),
        cipher: 'aes-256-gcm',
        iv: iv.toString('hex'),
        ciphertext: ciphertext.toString('hex'),
        tag: cipher.getAuthTag().toString('hex'),
      },
    };
  } else {
    file = { version: 1, type, publicKey: toHex(key.publicKey), secretKey: toHex(key.secretKey) };
  }
  mkdirSync(dirname(path), { recursive: true });
  // On disk before it returns: a key the chain learns about next (an org key rotation) must
  // survive a power loss.
  writeFileDurably(path, JSON.stringify(file, null, 2) + '\n', 0o600);
}

/** Replaces `path` in one step and durably: temp file fsynced, renamed, directory fsynced. */
export function writeFileDurably(path: string, data: string, mode?: number): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, mode === undefined ? undefined : { mode });
  fsyncPath(tmp, 'r+');
  renameSync(tmp, path);
  syncDirectoryOf(path);
}

/** Makes a rename or a new file in `path`'s directory durable. */
export function syncDirectoryOf(path: string): void {
  fsyncPath(dirname(path), 'r');
}

function fsyncPath(path: string, flags: string): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * The passphrase from MEDLEDGER_KEY_PASSPHRASE, else the file named by
 * MEDLEDGER_KEY_PASSPHRASE_FILE, else `fallbackFile` (a node home's generated passphrase) if it exists.
 */
export function passphraseFromEnv(env: NodeJS.ProcessEnv = process.env, fallbackFile?: string): string | undefined {
  if (env[PASSPHRASE_ENV]) return env[PASSPHRASE_ENV];
  const file = env[PASSPHRASE_FILE_ENV] || (fallbackFile && existsSync(fallbackFile) ? fallbackFile : undefined);
  if (file) return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  return undefined;
}

/** A random passphrase for a new home, written owner-only beside its keys (ADR 0003). */
export function writeGeneratedPassphrase(path: string): string {
  const passphrase = randomBytes(32).toString('base64url');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, passphrase + '\n', { mode: 0o600, flag: 'wx' });
  return passphrase;
}

export function readKeyFile(path: string, passphrase?: string): LoadedKey {
  return readTypedKeyFile(path, 'ed25519', publicKeyFromSecret, passphrase);
}

/** An x25519 document-encryption key file (`keys/enc.key`, a patient's enc key). */
export function readEncKeyFile(path: string, passphrase?: string): LoadedKey {
  return readTypedKeyFile(path, 'x25519', encPublicKeyFromSecret, passphrase);
}

/** What a key file says in the clear, without unlocking it: its public key and whether it is encrypted. */
export function keyFileInfo(path: string, type: KeyFileType = 'ed25519'): { publicKey: string; encrypted: boolean } {
  const raw = readKeyFileJson(path, type);
  return { publicKey: raw.publicKey, encrypted: raw.crypto !== undefined };
}

function readKeyFileJson(path: string, type: KeyFileType): Record<string, unknown> & { publicKey: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    // Not the parser's message: it quotes the text around the fault, which may be the secret key.
    const reason =
      err instanceof SyntaxError ? 'not valid JSON' : ((err as NodeJS.ErrnoException).code ?? 'unreadable');
    throw new MedLedgerError(CryptoErrorCode.KEYFILE_INVALID, `cannot read key file ${path}: ${reason}`);
  }
  if (!isRecord(raw) || raw.type !== type || typeof raw.publicKey !== 'string') {
    throw new MedLedgerError(CryptoErrorCode.KEYFILE_INVALID, `not a MedLedger ${type} key file`);
  }
  return raw as Record<string, unknown> & { publicKey: string };
}

function readTypedKeyFile(
  path: string,
  type: KeyFileType,
  derivePublic: (secret: Uint8Array) => Uint8Array,
  passphrase?: string,
): LoadedKey {
  const raw = readKeyFileJson(path, type);
  const publicKey = fromHex(raw.publicKey, 'publicKey');
  let secretKey: Uint8Array;
  let encrypted = false;
  if (typeof raw.secretKey === 'string') {
    secretKey = fromHex(raw.secretKey, 'secretKey');
  } else if (isRecord(raw.crypto)) {
    encrypted = true;
    if (!passphrase) {
      throw new MedLedgerError(
        CryptoErrorCode.NO_PASSPHRASE,
        `key file is encrypted: set ${PASSPHRASE_ENV} or ${PASSPHRASE_FILE_ENV}`,
      );
    }
    secretKey = decryptSeed(raw.crypto, publicKey, passphrase);
  } else {
    throw new MedLedgerError(CryptoErrorCode.KEYFILE_INVALID, 'key file has neither secretKey nor crypto');
  }
  if (secretKey.length !== 32 || !bytesEqual(derivePublic(secretKey), publicKey)) {
    throw new MedLedgerError(CryptoErrorCode.KEYFILE_INVALID, 'key file public key does not match its secret key');
  }
  return { publicKey, secretKey, encrypted };
}

function decryptSeed(c: Record<string, unknown>, publicKey: Uint8Array, passphrase: string): Uint8Array {
  const hex = (k: string) => fromHex(String(c[k]), `crypto.${k}`);
  const n = Number(c.n);
  const r = Number(c.r);
  const p = Number(c.p);
  if (
    c.kdf !== 'scrypt' ||
    c.cipher !== 'aes-256-gcm' ||
    !(n > 1 && n <= 1 << 20) ||
    !(r > 0 && r <= 16) ||
    !(p > 0 && p <= 4)
  ) {
    throw new MedLedgerError(CryptoErrorCode.KEYFILE_INVALID, 'unsupported key file parameters');
  }
  const kek = scryptSync(passphrase, hex('salt'), 32, { N: n, r, p, maxmem: 256 * 1024 * 1024 });
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, hex('iv'));
    decipher.setAAD(publicKey);
    decipher.setAuthTag(hex('tag'));
    return new Uint8Array(Buffer.concat([decipher.update(hex('ciphertext')), decipher.final()]));
  } catch {
    throw new MedLedgerError(CryptoErrorCode.BAD_PASSPHRASE, 'wrong passphrase for key file');
  }
}
