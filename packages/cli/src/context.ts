import { CryptoErrorCode, EncKey, readEncKeyFile, readKeyFile, Signer, type LoadedKey } from '@medledger/crypto';
import { Account, MedLedgerClient } from '@medledger/client';
import { isMedLedgerError, MedLedgerError } from '@medledger/types';
import { homeKeyPassphrase, homeLayout } from '@medledger/node';
import { CliErrorCode } from './errors.js';
import { resolveApi, type ChainOptions, type SigningOptions } from './options.js';
import { warn } from './output.js';

export function chainClient(opts: ChainOptions): MedLedgerClient {
  return new MedLedgerClient({ api: resolveApi(opts) });
}

/** The key file of --key, else <home>/keys/org.key. */
export function keyPath(opts: SigningOptions): string {
  if (opts.key) return opts.key;
  if (opts.home) return homeLayout(opts.home).orgKey;
  throw new MedLedgerError(CliErrorCode.NO_KEY, 'this command signs a tx: give --key FILE or --home DIR');
}

/**
 * The passphrase of key files, found as the node finds it (`homeKeyPassphrase`): the environment,
 * else with --home the passphrase `init` generated there. An unreadable passphrase file is
 * reported as CRYPTO_NO_PASSPHRASE.
 */
export function keyPassphrase(home?: string): string | undefined {
  return homeKeyPassphrase(home ? homeLayout(home) : undefined, process.env, CryptoErrorCode.NO_PASSPHRASE);
}

/**
 * Loads the signing key. The passphrase is looked up only for an encrypted file; a plain file
 * works but is warned about, on stderr, since it leaves the org key readable on disk.
 */
export function loadSigner(opts: SigningOptions): Signer {
  const path = keyPath(opts);
  let key: LoadedKey;
  try {
    key = readKeyFile(path);
  } catch (err) {
    if (!isMedLedgerError(err) || err.code !== CryptoErrorCode.NO_PASSPHRASE) throw err;
    key = readKeyFile(path, keyPassphrase(opts.home));
  }
  if (!key.encrypted) warn(`key file ${path} is not encrypted; use an encrypted key outside development`);
  const signer = new Signer(key.secretKey);
  // The Signer holds its own copy inside a KeyObject; this one is no longer needed.
  key.secretKey.fill(0);
  return signer;
}

/**
 * The organisation's x25519 document key: --enc-key, else <home>/keys/enc.key. Unlocked like the
 * signing key; held in a KeyObject from here on.
 */
export function loadEncKey(opts: SigningOptions & { encKey?: string }): EncKey {
  const path = opts.encKey ?? (opts.home ? homeLayout(opts.home).encKey : undefined);
  if (!path) throw new MedLedgerError(CliErrorCode.NO_KEY, 'decrypting needs --enc-key FILE or --home DIR');
  let key: LoadedKey;
  try {
    key = readEncKeyFile(path);
  } catch (err) {
    if (!isMedLedgerError(err) || err.code !== CryptoErrorCode.NO_PASSPHRASE) throw err;
    key = readEncKeyFile(path, keyPassphrase(opts.home));
  }
  if (!key.encrypted) warn(`key file ${path} is not encrypted; use an encrypted key outside development`);
  const encKey = new EncKey(key.secretKey);
  key.secretKey.fill(0);
  return encKey;
}

/** Key first (fails without touching the network), then the chain id from the node's /status. */
export async function signingAccount(opts: SigningOptions): Promise<Account> {
  const signer = loadSigner(opts);
  return Account.connect(signer, chainClient(opts));
}
