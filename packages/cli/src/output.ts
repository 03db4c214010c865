import type { Command } from 'commander';
import { oneLine } from './errors.js';
import type { ChainOptions } from './options.js';

/** What a command produces: one JSON object for --json, and a short text for people. */
export interface CommandOutput {
  json: object;
  text: string;
}

const pendingWarnings: string[] = [];

/**
 * Warnings go to stderr so that stdout stays exactly the command's output. They are held until
 * the command succeeds: a failure prints exactly one stderr line, its error (DESIGN §7).
 */
export function warn(message: string): void {
  pendingWarnings.push(`warning: ${oneLine(message)}\n`);
}

export function flushWarnings(): void {
  for (const w of pendingWarnings.splice(0)) process.stderr.write(w);
}

export function dropWarnings(): void {
  pendingWarnings.length = 0;
}

/**
 * Wraps a command handler: runs it and prints its output in the form asked for. Errors are left
 * to `run` (program.ts), which prints the one error line and sets the exit code.
 */
export function action<O extends Pick<ChainOptions, 'json'>>(
  handler: (opts: O, cmd: Command) => Promise<CommandOutput>,
): (opts: O, cmd: Command) => Promise<void> {
  return async (opts, cmd) => {
    const out = await handler(opts, cmd);
    flushWarnings();
    process.stdout.write(opts.json ? JSON.stringify(out.json) + '\n' : out.text.replace(/\n?$/, '\n'));
  };
}

/** `2026-11-21T09:31:31.000Z` for ms times; '-' for none. */
export function isoTime(ms: number | null | undefined): string {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : '-';
}
