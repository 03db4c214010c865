import type { Command } from 'commander';
import { createConsentGrantPayload, createConsentRevokePayload, type ConsentJson } from '@medledger/client';
import { PURPOSES, TxType } from '@medledger/types';
import { chainClient, signingAccount } from '../context.js';
import { parseList, withChainOptions, withSigningOptions, type ChainOptions, type SigningOptions } from '../options.js';
import { action, isoTime } from '../output.js';

interface GrantOptions extends SigningOptions {
  patient: string;
  grantee: string;
  types?: string[];
  records?: string[];
  purpose: string;
  expires?: string;
}

function consentLine(c: ConsentJson): string {
  const scope = [...c.scope.types, ...c.scope.records].join(',');
  const expires = c.expires ? ` until ${isoTime(c.expires)}` : '';
  return `${c.id}  ${c.status}  ${c.grantee}  ${c.purpose}  ${scope}${expires}`;
}

export function registerConsentCommands(program: Command): void {
  const consent = program.command('consent').description("patients' consents (signed with the patient's key)");

  withSigningOptions(
    consent
      .command('grant')
      .description('grant an organisation access to record types and/or records; waits for the commit')
      .requiredOption('--patient <id>', 'patient id')
      .requiredOption('--grantee <org>', 'organisation id that gets access')
      .option('--types <t1,t2>', 'FHIR resource types covered', parseList)
      .option('--records <id1,id2>', 'record ids covered', parseList)
      .requiredOption('--purpose <purpose>', `purpose of use: ${PURPOSES.join(', ')}`)
      .option('--expires <time>', 'expiry (ISO 8601 or ms since the epoch); default: none'),
  ).action(
    action<GrantOptions>(async (opts) => {
      // Built (and checked) before the key is read or the node contacted: bad input costs nothing.
      const payload = createConsentGrantPayload({
        patient: opts.patient,
        grantee: opts.grantee,
        types: opts.types,
        records: opts.records,
        purpose: opts.purpose,
        expires: opts.expires,
      });
      const account = await signingAccount(opts);
      const r = await account.send(TxType.ConsentGrant, payload, { wait: 'commit' });
      return {
        json: { consent: payload.consent, tx: r.hash, height: r.height },
        text: `granted consent ${payload.consent} to ${payload.grantee} (tx ${r.hash}, height ${r.height})`,
      };
    }),
  );

  withSigningOptions(
    consent
      .command('revoke')
      .description('revoke a consent; waits for the commit')
      .requiredOption('--consent <id>', 'consent id'),
  ).action(
    action<SigningOptions & { consent: string }>(async (opts) => {
      const payload = createConsentRevokePayload({ consent: opts.consent });
      const account = await signingAccount(opts);
      const r = await account.send(TxType.ConsentRevoke, payload, { wait: 'commit' });
      return {
        json: { consent: payload.consent, revoked: true, tx: r.hash, height: r.height },
        text: `revoked consent ${payload.consent} (tx ${r.hash}, height ${r.height})`,
      };
    }),
  );

  const consents = program.command('consents').description('consent queries');
  withChainOptions(
    consents
      .command('list')
      .description("a patient's consents with their status")
      .requiredOption('--patient <id>', 'patient id')
      .option('--fhir', 'print a FHIR R4 Bundle of Consent resources'),
  ).action(
    action<ChainOptions & { patient: string; fhir?: boolean }>(async (opts) => {
      if (opts.fhir) {
        const bundle = await chainClient(opts).consentsFhir(opts.patient);
        return { json: bundle, text: JSON.stringify(bundle, null, 2) };
      }
      const body = await chainClient(opts).consents(opts.patient);
      const lines = body.consents.map(consentLine);
      return { json: body, text: lines.length ? lines.join('\n') : 'no consents' };
    }),
  );
}
