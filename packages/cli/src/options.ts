import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { isRecord, MedLedgerError } from '@medledger/types';
import { DEFAULT_API } from '@medledger/client';
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

/** The node home layout the CLI relies on (written by `medledger init`). */
export const homePaths = (home: string) => ({
  orgKey: join(home, 'keys', 'org.key'),
  encKey: join(home, 'keys', 'enc.key'),
  passphrase: join(home, 'keys', 'passphrase'),
  nodeConfig: join(home, 'config', 'node.json'),
});

export function withChainOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', `node API URL (default: $${API_ENV}, else ${DEFAULT_API})`)
    .option('--home <dir>', 'node home: its config/node.json gives the API URL when --api is absent')
    .option('--json', 'print exactly one JSON object on stdout');
}

export function withSigningOptions(cmd: Command): Command {
  return withChainOptions(cmd).option(
    '--key <file>',
    'ed25519 key file that signs (default with --home: <home>/keys/org.key); an encrypted one is unlocked ' +
      'with $MEDLEDGER_KEY_PASSPHRASE or $MEDLEDGER_KEY_PASSPHRASE_FILE',
  );
}

/** --api, else the `api` of <home>/config/node.json, else $MEDLEDGER_API, else the default. */
export function resolveApi(opts: ChainOptions, env: NodeJS.ProcessEnv = process.env): string {
  if (opts.api) return opts.api;
  const fromHome = opts.home ? apiFromHome(opts.home) : undefined;
  return fromHome ?? (env[API_ENV] || DEFAULT_API);
}

function apiFromHome(home: string): string | undefined {
  const file = homePaths(home).nodeConfig;
  if (!existsSync(file)) return undefined;
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MedLedgerError(CliErrorCode.CONFIG_INVALID, `${file}: ${(err as Error).message}`, { file });
  }
  if (!isRecord(config) || config.api === undefined) return undefined;
  const api = config.api;
  if (typeof api === 'string' && api !== '') {
    // A bare host:port (a listen address) means plain http on it.
    return /^[a-z][a-z0-9+.-]*:\/\//i.test(api) ? api : `http://${api}`;
  }
  // The node's own config form: { host, port, ... } — the address its API listens on.
  if (isRecord(api) && typeof api.host === 'string' && Number.isInteger(api.port)) {
    return `http://${connectHost(api.host)}:${api.port as number}`;
  }
  throw new MedLedgerError(CliErrorCode.CONFIG_INVALID, `${file}: "api" must be a URL or { host, port }`, { file });
}

/** A listen address to connect to: a wildcard means this machine; IPv6 literals need brackets. */
function connectHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
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
