import { existsSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { MedLedgerError, TxType, toHex } from '@medledger/types';
import {
  CryptoErrorCode,
  PASSPHRASE_ENV,
  generateKeyPair,
  keyFileInfo,
  syncDirectoryOf,
  writeKeyFile,
} from '@medledger/crypto';
import { chainClient, keyPassphrase, keyPath, signingAccount } from '../context.js';
import { withSigningOptions, type SigningOptions } from '../options.js';
import { CliErrorCode } from '../errors.js';
import { action, warn } from '../output.js';

/** `medledger org ...`: the organisation's own key. */
export function registerOrgCommands(program: Command): void {
  const org = program.command('org').description("this organisation's org key");

  withSigningOptions(
    org
      .command('rotate-key')
      .description(
        'replace the org key: a new key is written next to the current one, `org.rotateKey` is signed with the ' +
          "current key and, once committed, the new key takes the key file's place (the old one is kept as .retired)",
      ),
  ).action(
    action<SigningOptions>(async (opts) => {
      const path = keyPath(opts);
      const pending = `${path}.new`;
      if (existsSync(pending)) return finishRotation(opts, path, pending);
      const { encrypted } = keyFileInfo(path);
      const passphrase = keyPassphrase(opts.home);
      if (encrypted && !passphrase) {
        throw new MedLedgerError(CryptoErrorCode.NO_PASSPHRASE, `the org key is encrypted: set ${PASSPHRASE_ENV}`);
      }
      if (!encrypted) warn('the new org key is written unencrypted, like the current one (development only)');
      const account = await signingAccount(opts);
      const next = generateKeyPair();
      // Durable before the tx leaves: if this process or the machine dies after the commit, the
      // key is not lost, and a second run finishes the rotation.
      writeKeyFile(pending, next, encrypted ? passphrase : undefined);
      const r = await account.send(TxType.OrgRotateKey, { newKey: next.publicKey }, { wait: 'commit' });
      swapKeyFiles(path, pending);
      next.secretKey.fill(0);
      const publicKey = toHex(next.publicKey);
      return {
        json: { orgKey: publicKey, file: path, retired: `${path}.retired`, tx: r.hash, height: r.height },
        text: `org key rotated at height ${r.height}: ${publicKey}\nold key kept as ${path}.retired`,
      };
    }),
  );
}

/** The new key takes the key file's place; the old one is kept as `.retired`. */
function swapKeyFiles(path: string, pending: string): void {
  renameSync(path, `${path}.retired`);
  renameSync(pending, path);
  syncDirectoryOf(path);
}

/**
 * A `.new` key file is left by a rotation that stopped after writing it. If the chain already
 * lists it as the organisation's key, the rotation committed and only the file swap is missing.
 * Otherwise its tx may still be pending: replacing the file could lose the key the chain is
 * about to take, so the operator decides.
 */
async function finishRotation(opts: SigningOptions, path: string, pending: string) {
  const next = keyFileInfo(pending).publicKey;
  const { orgs } = await chainClient(opts).orgs();
  if (!orgs.some((o) => o.orgKey === next)) {
    throw new MedLedgerError(
      CliErrorCode.KEY_EXISTS,
      `${pending} is from an earlier rotation the chain has not taken; if its org.rotateKey tx is no longer pending, remove the file and rotate again`,
    );
  }
  swapKeyFiles(path, pending);
  return {
    json: { orgKey: next, file: path, retired: `${path}.retired`, finished: true },
    text: `finished an earlier rotation: the org key is ${next}\nold key kept as ${path}.retired`,
  };
}
