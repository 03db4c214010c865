import type { Command } from 'commander';
import { createPatientRegisterPayload } from '@medledger/client';
import { toHex, TxType } from '@medledger/types';
import { chainClient, loadSigner, signingAccount } from '../context.js';
import { withChainOptions, withSigningOptions, type ChainOptions, type SigningOptions } from '../options.js';
import { action, isoTime } from '../output.js';

interface RegisterOptions extends SigningOptions {
  account?: string;
  encKey?: string;
  id?: string;
}

export function registerPatientCommands(program: Command): void {
  const patient = program.command('patient').description('pseudonymous patients');

  withSigningOptions(
    patient
      .command('register')
      .description('register a patient under a random id and wait for the commit')
      .option('--account <pubkeyhex>', "the patient's own ed25519 public key (omit to register custodially)")
      .option('--enc-key <hex>', "the patient's x25519 encryption public key")
      .option('--id <id>', 'patient id (32 hex); default: a fresh random id'),
  ).action(
    action<RegisterOptions>(async (opts) => {
      // Built (and checked) before the key is read or the node contacted: bad input costs nothing.
      const payload = createPatientRegisterPayload({ patient: opts.id, account: opts.account, encKey: opts.encKey });
      const account = await signingAccount(opts);
      const r = await account.send(TxType.PatientRegister, payload, { wait: 'commit' });
      return {
        json: { patient: payload.patient, tx: r.hash, height: r.height },
        text: `registered patient ${payload.patient} (tx ${r.hash}, height ${r.height})`,
      };
    }),
  );

  withSigningOptions(
    patient
      .command('claim')
      .description(
        "hand a patient registered without an account to the patient's own key (signed by the custodian's org key)",
      )
      .requiredOption('--id <id>', 'patient id')
      .requiredOption('--patient-key <file>', "the patient's ed25519 key file, which signs the claim"),
  ).action(
    action<SigningOptions & { id: string; patientKey: string }>(async (opts) => {
      const patientSigner = loadSigner({ key: opts.patientKey });
      const address = toHex(patientSigner.address);
      const account = await signingAccount(opts);
      const r = await account.claimPatient({ patient: opts.id, account: patientSigner }, { wait: 'commit' });
      return {
        json: { patient: opts.id, account: address, tx: r.hash, height: r.height },
        text: `patient ${opts.id} now speaks through account ${address} (tx ${r.hash}, height ${r.height})`,
      };
    }),
  );

  withChainOptions(
    patient.command('show').description('a registered patient').requiredOption('--id <id>', 'patient id'),
  ).action(
    action<ChainOptions & { id: string }>(async (opts) => {
      const body = await chainClient(opts).patient(opts.id);
      const p = body.patient;
      return {
        json: body,
        text: [
          `patient:    ${p.id}`,
          `account:    ${p.account ?? '-'}`,
          `custodian:  ${p.custodian ?? '-'}`,
          `enc key:    ${p.encKey ?? '-'}`,
          `registered: ${isoTime(p.registeredAt)}`,
        ].join('\n'),
      };
    }),
  );
}
