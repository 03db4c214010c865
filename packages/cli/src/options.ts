import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { isRecord, MedLedgerError } from '@medledger/types';
import { DEFAULT_API } from '@medledger/client';
import { apiUrl, homeLayout } from '@medledger/node';
import { CliErrorCode } from './errors.js';

/** Where the API is when neither --api, --home nor the environment says otherwise. */
export { DEFAULT_API };
export const API_ENV = 'MEDLEDGER_API';

/** Options of every command that reads chain data. */
export interface ChainOptions {
  api?: string;
  home?: string;
  json?: boolean;
}

/** Options of every command that signs a tx. */
export interface SigningOptions extends ChainOptions {
  key?: string;
}

export function withChainOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', `node API URL (default: $${API_ENV}, else ${DEFAULT_API})`)
    .option(
      '--home <dir>',
      'node home: when --api is absent, the API of the node running there, else the one its config/node.json gives',
    )
    .option('--json', 'print exactly one JSON object on stdout');
}

export function withSigningOptions(cmd: Command): Command {
  return withChainOptions(cmd).option(
    '--key <file>',
    'ed25519 key file that signs (default with --home: <home>/keys/org.key); an encrypted one is unlocked ' +
      'with $MEDLEDGER_KEY_PASSPHRASE or $MEDLEDGER_KEY_PASSPHRASE_FILE',
  );
}

/**
 * --api, else the API of the node running in --home (<home>/data/api.json), else the `api` of
 * <home>/config/node.json, else $MEDLEDGER_API, else the default.
 */
export function resolveApi(opts: ChainOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.api) return opts.api;
  const fromHome = opts.home ? (runningApi(opts.home) ?? apiFromHome(opts.home)) : undefined;
  return fromHome ?? (env[API_ENV] || DEFAULT_API);
}

/**
 * Records, for `--home` commands, where the API of the node `start` runs in `home` listens: a
 * --api-port flag or MEDLEDGER_API_PORT may have moved it from config/node.json's. Returns the
 * function that removes the record, called once the node has stopped.
 */
export function recordRunningApi(home: string, api: { host: string; port: number }): () => void {
  const file = homeLayout(home).runningApi;
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ pid: process.pid, api }) + '\n');
  renameSync(tmp, file);
  return () => rmSync(file, { force: true });
}

/**
 * The API of the node running in `home`, from the record `start` keeps there; undefined when
 * there is none, or when the process that wrote it is gone (killed before it could remove it).
 */
function runningApi(home: string): string | undefined {
  let record: unknown;
  try {
    record = JSON.parse(readFileSync(homeLayout(home).runningApi, 'utf8'));
  } catch {
    // Absent, or cut short by a crash mid-write: config/node.json says the rest.
    return undefined;
  }
  if (!isRecord(record) || !Number.isInteger(record.pid) || !processExists(record.pid as number)) return undefined;
  return apiUrlOf(record.api);
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function apiFromHome(home: string): string | undefined {
  const file = homeLayout(home).nodeConfig;
  if (!existsSync(file)) return undefined;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MedLedgerError(CliErrorCode.CONFIG_INVALID, `${file}: ${(err as Error).message}`, { file });
  }
  if (!isRecord(config) || config.api === undefined) return undefined;
  const api = apiUrlOf(config.api);
  if (api === undefined) {
    throw new MedLedgerError(CliErrorCode.CONFIG_INVALID, `${file}: "api" must be a URL or { host, port }`, { file });
  }
  return api;
}

/** A URL from an `api` value: a URL, a bare host:port, or the node's own { host, port } form. */
function apiUrlOf(api: unknown): string | undefined {
  if (typeof api === 'string' && api !== '') {
    // A bare host:port (a listen address) means plain http on it.
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(api) ? api : `http://${api}`;
  }
  // The node's own config form: { host, port, ... } — the address its API listens on.
  if (isRecord(api) && typeof api.host === 'string' && Number.isInteger(api.port)) {
    return apiUrl(api.host, api.port as number);
  }
  return undefined;
}

/** Commander option parsers: they throw InvalidArgumentError, which commander reports as usage. */
export function parseIntOption(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

export function parseList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
