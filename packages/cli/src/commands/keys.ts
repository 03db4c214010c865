import { existsSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { MedLedgerError, toHex } from '@medledger/types';
import {
  addressHex,
  CryptoErrorCode,
  generateEncKeyPair,
  generateKeyPair,
  PASSPHRASE_ENV,
  PASSPHRASE_FILE_ENV,
  writeKeyFile,
} from '@medledger/crypto';
import { keyPassphrase } from '../context.js';
import { CliErrorCode } from '../errors.js';
import { action, warn } from '../output.js';

interface GenerateOptions {
  out: string;
  type: 'ed25519' | 'x25519';
  encrypt?: boolean;
  force?: boolean;
  json?: boolean;
}

export function registerKeysCommands(program: Command): void {
  const keys = program.command('keys').description('key files: ed25519 signing keys, x25519 document keys');

  keys
    .command('generate')
    .description('create a new key and write it to a key file')
    .requiredOption('--out <file>', 'key file to write (created with mode 0600)')
    .option(
      '--type <type>',
      'ed25519 (signs txs: an org or patient account) or x25519 (documents are encrypted to it)',
      (v: string) => {
        if (v !== 'ed25519' && v !== 'x25519') throw new InvalidArgumentError('expected ed25519 or x25519');
        return v;
      },
      'ed25519',
    )
    .option('--encrypt', `encrypt the key with the passphrase in $${PASSPHRASE_ENV} or $${PASSPHRASE_FILE_ENV}`)
    .option('--force', 'overwrite an existing file')
    .option('--json', 'print exactly one JSON object on stdout')
    .action(
      action<GenerateOptions>(async (opts) => {
        // Overwriting a key file silently could destroy the only copy of an org key.
        if (existsSync(opts.out) && !opts.force) {
          throw new MedLedgerError(CliErrorCode.KEY_EXISTS, `${opts.out} exists; use --force to overwrite it`);
        }
        let passphrase: string | undefined;
        if (opts.encrypt) {
          passphrase = keyPassphrase();
          if (!passphrase) {
            throw new MedLedgerError(
              CryptoErrorCode.NO_PASSPHRASE,
              `--encrypt needs a passphrase: set ${PASSPHRASE_ENV} or ${PASSPHRASE_FILE_ENV}`,
            );
          }
        } else {
          warn(`writing an unencrypted key file ${opts.out}; use --encrypt outside development`);
        }
        if (opts.type === 'x25519') {
          const enc = generateEncKeyPair();
          writeKeyFile(opts.out, enc, passphrase, 'x25519');
          enc.secretKey.fill(0);
          const publicKey = toHex(enc.publicKey);
          return {
            json: { type: 'x25519', publicKey },
            text: `wrote ${opts.encrypt ? 'encrypted' : 'unencrypted'} x25519 key file ${opts.out}\npublic key: ${publicKey}`,
          };
        }
        const key = generateKeyPair();
        writeKeyFile(opts.out, key, passphrase);
        key.secretKey.fill(0);
        const publicKey = toHex(key.publicKey);
        const address = addressHex(key.publicKey);
        return {
          json: { publicKey, address },
          text: `wrote ${opts.encrypt ? 'encrypted' : 'unencrypted'} key file ${opts.out}\npublic key: ${publicKey}\naddress:    ${address}`,
        };
      }),
    );
}
