import { join } from 'node:path';
import { MedLedgerError } from '@medledger/types';
import { passphraseFromEnv } from '@medledger/crypto';
import { NodeErrorCode } from '../errors.js';

/** Where a node keeps everything under its home directory. */
export interface HomeLayout {
  home: string;
  config: string;
  genesis: string;
  nodeConfig: string;
  orgKey: string;
  nodeKey: string;
  /** The organisation's x25519 document-encryption key (ADR 0006). */
  encKey: string;
  /** A generated passphrase for the key files, when `init` made one: move it to a secret store. */
  passphrase: string;
  data: string;
  db: string;
  lastSignState: string;
  /** The consensus WAL, one file per height (ADR 0002). */
  consensusWal: string;
  /** Written by `medledger start` while its node runs: its pid and the address its API really listens on. */
  runningApi: string;
  logs: string;
  logFile: string;
}

export function homeLayout(home: string): HomeLayout {
  return {
    home,
    config: join(home, 'config'),
    genesis: join(home, 'config', 'genesis.json'),
    nodeConfig: join(home, 'config', 'node.json'),
    orgKey: join(home, 'keys', 'org.key'),
    nodeKey: join(home, 'keys', 'node.key'),
    encKey: join(home, 'keys', 'enc.key'),
    passphrase: join(home, 'keys', 'passphrase'),
    data: join(home, 'data'),
    db: join(home, 'data', 'ledger'),
    lastSignState: join(home, 'data', 'last_sign_state.json'),
    consensusWal: join(home, 'data', 'consensus-wal'),
    runningApi: join(home, 'data', 'api.json'),
    logs: join(home, 'logs'),
    logFile: join(home, 'logs', 'node.log'),
  };
}

/**
 * The passphrase of a home's key files, looked up as `start`, `config validate` and the CLI's
 * signing commands all do: MEDLEDGER_KEY_PASSPHRASE, else the file MEDLEDGER_KEY_PASSPHRASE_FILE
 * names, else the one `init` generated into `keys/passphrase` (without a layout: the environment
 * only). Undefined for plain key files. A passphrase file that cannot be read fails with
 * `errorCode`: CONFIG_INVALID for a node's start; the CLI reports CRYPTO_NO_PASSPHRASE.
 */
export function homeKeyPassphrase(
  layout: HomeLayout | undefined,
  env: NodeJS.ProcessEnv,
  errorCode: string = NodeErrorCode.ConfigInvalid,
): string | undefined {
  try {
    return passphraseFromEnv(env, layout?.passphrase);
  } catch (err) {
    throw new MedLedgerError(errorCode, `cannot read the passphrase file: ${(err as Error).message}`);
  }
}
