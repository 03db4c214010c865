import type { Command } from 'commander';
import type { AccessEventJson } from '@medledger/client';
import { chainClient } from '../context.js';
import { parseIntOption, withChainOptions, type ChainOptions } from '../options.js';
import { action, isoTime } from '../output.js';

interface AuditOptions extends ChainOptions {
  patient: string;
  fhir?: boolean;
  limit?: number;
  cursor?: string;
}

function eventLine(e: AccessEventJson): string {
  const basis = e.breakGlass !== null ? `BREAK-GLASS: ${e.breakGlass}` : `consent ${e.consent}`;
  return `${isoTime(e.time)}  ${e.accessor}  read ${e.record}  for ${e.purpose}  (${basis})`;
}

export function registerAuditCommands(program: Command): void {
  withChainOptions(
    program
      .command('audit')
      .description("who read a patient's records, when, why and under which consent (or break-glass)")
      .requiredOption('--patient <id>', 'patient id')
      .option('--limit <n>', 'page size, 1-500', parseIntOption(1, 500))
      .option('--cursor <cursor>', 'the "next" cursor of the previous page')
      .option('--fhir', 'print a FHIR R4 Bundle of AuditEvent resources'),
  ).action(
    action<AuditOptions>(async (opts) => {
      if (opts.fhir) {
        const bundle = await chainClient(opts).auditFhir(opts.patient, { limit: opts.limit, cursor: opts.cursor });
        return { json: bundle, text: JSON.stringify(bundle, null, 2) };
      }
      const body = await chainClient(opts).audit(opts.patient, { limit: opts.limit, cursor: opts.cursor });
      const lines = body.events.map(eventLine);
      if (lines.length === 0) lines.push('no access events');
      if (body.next) lines.push(`more: --cursor ${body.next}`);
      return { json: body, text: lines.join('\n') };
    }),
  );
}
