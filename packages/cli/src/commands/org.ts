import { existsSync, readFileSync, renameSync } from 'node:fs';
import type { Command } from 'commander';
import { MedLedgerError, TxType, isRecord, toHex } from '@medledger/types';
import { CryptoErrorCode, PASSPHRASE_ENV, generateKeyPair, writeKeyFile } from '@medledger/crypto';
import { envPassphrase, keyPath, signingAccount } from '../context.js';
import { withSigningOptions, type SigningOptions } from '../options.js';
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
      const current: unknown = JSON.parse(readFileSync(path, 'utf8'));
      const encrypted = isRecord(current) && current.crypto !== undefined;
      const passphrase = envPassphrase();
      if (encrypted && !passphrase) {
        throw new MedLedgerError(CryptoErrorCode.NO_PASSPHRASE, `the org key is encrypted: set ${PASSPHRASE_ENV}`);
      }
      if (!encrypted) warn('the new org key is written unencrypted, like the current one (development only)');
      const account = await signingAccount(opts);
      const next = generateKeyPair();
      // On disk before the tx leaves: if this process dies after the commit, the key is not lost.
      const pending = `${path}.new`;
      if (existsSync(pending)) throw new MedLedgerError('KEY_EXISTS', `${pending} exists from an earlier rotation`);
      writeKeyFile(pending, next, encrypted ? passphrase : undefined);
      const r = await account.send(TxType.OrgRotateKey, { newKey: next.publicKey }, { wait: 'commit' });
      renameSync(path, `${path}.retired`);
      renameSync(pending, path);
      next.secretKey.fill(0);
      const publicKey = toHex(next.publicKey);
      return {
        json: { orgKey: publicKey, file: path, retired: `${path}.retired`, tx: r.hash, height: r.height },
        text: `org key rotated at height ${r.height}: ${publicKey}\nold key kept as ${path}.retired`,
      };
    }),
  );
}
