import type { Command } from 'commander';
import { TxType, validatePayload } from '@medledger/types';
import { signingAccount } from '../context.js';
import { withSigningOptions, type SigningOptions } from '../options.js';
import { action } from '../output.js';

/**
 * `erase`: the patient's erasure request (crypto-shredding, ADR 0006). Signed with the patient's
 * account key (or the custodian's org key for a patient without one); once committed, every node
 * deletes the record's ciphertext and wrapped keys, and the chain keeps only the hash.
 */
export function registerEraseCommands(program: Command): void {
  withSigningOptions(
    program
      .command('erase')
      .description("erase a record's document on every node (the chain keeps its hash); waits for the commit")
      .requiredOption('--record <id>', 'record id'),
  ).action(
    action<SigningOptions & { record: string }>(async (opts) => {
      const payload = { record: opts.record };
      validatePayload(TxType.RecordErase, payload);
      const account = await signingAccount(opts);
      const r = await account.send(TxType.RecordErase, payload, { wait: 'commit' });
      return {
        json: { record: opts.record, erased: true, tx: r.hash, height: r.height },
        text: `erased record ${opts.record}: every node deletes its document (tx ${r.hash}, height ${r.height})`,
      };
    }),
  );
}
