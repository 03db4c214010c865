import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAuditCommands } from './commands/audit.js';
import { registerChainCommands } from './commands/chain.js';
import { registerConsentCommands } from './commands/consent.js';
import { registerEraseCommands } from './commands/erase.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerMemberCommands } from './commands/member.js';
import { registerConfigCommands } from './commands/config.js';
import { registerOrgCommands } from './commands/org.js';
import { registerNodeCommands } from './commands/node.js';
import { registerPatientCommands } from './commands/patient.js';
import { registerRecordCommands } from './commands/record.js';
import { registerStatusCommands } from './commands/status.js';
import { CliErrorCode, formatError, oneLine } from './errors.js';
import { dropWarnings } from './output.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * The `medledger` command. Each command group lives in commands/<group>.ts and registers itself
 * through one `register*Commands(program)` call below; adding a group is one import and one call.
 */
export function createProgram(): Command {
  const program = new Command('medledger')
    .description('MedLedger: a permissioned ledger for a hospital consortium')
    .version(pkg.version)
    // Set before any subcommand exists: commander copies these settings into every subcommand.
    .exitOverride()
    .configureOutput({
      // Usage errors follow the same one-line `error: CODE: message` contract as every failure.
      outputError: (str, write) => write(`error: ${CliErrorCode.USAGE}: ${oneLine(str.replace(/^error:\s*/, ''))}\n`),
    });

  registerKeysCommands(program);
  registerStatusCommands(program);
  registerPatientCommands(program);
  registerRecordCommands(program);
  registerConsentCommands(program);
  registerAuditCommands(program);
  registerEraseCommands(program);
  registerChainCommands(program);
  registerNodeCommands(program);
  registerMemberCommands(program);
  registerOrgCommands(program);
  registerConfigCommands(program);

  return program;
}

/** Runs the CLI on `argv` and returns the exit code; a failure prints exactly one stderr line. */
export async function run(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return 0;
  } catch (err) {
    // Commander has already printed its own output (help, version, or the usage error line).
    if (err instanceof CommanderError) return err.exitCode;
    dropWarnings();
    process.stderr.write(formatError(err) + '\n');
    return 1;
  }
}
