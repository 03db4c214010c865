import { readFileSync } from 'node:fs';
import { MedLedgerError, isRecord, parseGenesis, type Genesis } from '@medledger/types';
import { NodeErrorCode } from '../errors.js';
import { DEFAULT_NODE_CONFIG, type NodeConfig, type NodeConfigOverrides } from './options.js';

/**
 * Config precedence: defaults < config/node.json < MEDLEDGER_* environment < explicit overrides
 * (CLI flags). Unknown keys are errors so a typo never silently falls back to a default.
 */
export function loadNodeConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: NodeConfigOverrides = {},
): NodeConfig {
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `cannot read ${path}: ${(err as Error).message}`);
  }
  const merged = merge(structuredClone(DEFAULT_NODE_CONFIG), file, 'config') as NodeConfig;
  applyEnv(merged, env);
  const config = merge(merged, overrides, 'overrides') as NodeConfig;
  validateNodeConfig(config);
  return config;
}

function merge(base: Record<string, unknown> | NodeConfig, patch: unknown, at: string): unknown {
  if (!isRecord(patch)) throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${at}: expected an object`);
  const out = base as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (!(k in out)) throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${at}.${k}: unknown setting`);
    out[k] = isRecord(out[k]) && !Array.isArray(out[k]) ? merge(out[k] as Record<string, unknown>, v, `${at}.${k}`) : v;
  }
  return out;
}

const ENV: [string, (c: NodeConfig, v: string) => void][] = [
  ['MEDLEDGER_API_HOST', (c, v) => (c.api.host = v)],
  ['MEDLEDGER_API_PORT', (c, v) => (c.api.port = Number(v))],
  ['MEDLEDGER_P2P_HOST', (c, v) => (c.p2p.host = v)],
  ['MEDLEDGER_P2P_PORT', (c, v) => (c.p2p.port = Number(v))],
  ['MEDLEDGER_P2P_BOOTSTRAP', (c, v) => (c.p2p.bootstrap = v.split(',').filter(Boolean))],
  ['MEDLEDGER_LOG_LEVEL', (c, v) => (c.log.level = v as NodeConfig['log']['level'])],
];

function applyEnv(c: NodeConfig, env: NodeJS.ProcessEnv): void {
  for (const [name, set] of ENV) {
    const v = env[name];
    if (v !== undefined && v !== '') set(c, v);
  }
}

export function validateNodeConfig(c: NodeConfig): void {
  const fail = (field: string, what: string) => {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${field}: ${what}`);
  };
  const port = (p: number, field: string) => (Number.isInteger(p) && p >= 0 && p < 65536) || fail(field, 'a TCP port');
  port(c.api.port, 'api.port');
  port(c.p2p.port, 'p2p.port');
  if (!Array.isArray(c.p2p.bootstrap) || c.p2p.bootstrap.some((a) => typeof a !== 'string' || !a.includes('/p2p/'))) {
    fail('p2p.bootstrap', 'a list of multiaddrs ending in /p2p/<peerId>');
  }
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(c.log.level))
    fail('log.level', 'trace|debug|info|warn|error');
  for (const k of ['maxTxs', 'maxBytes', 'maxPerAccount'] as const) {
    if (!Number.isInteger(c.mempool[k]) || c.mempool[k] <= 0) fail(`mempool.${k}`, 'a positive integer');
  }
  if (!Number.isInteger(c.api.bodyLimitBytes) || c.api.bodyLimitBytes < 1024)
    fail('api.bodyLimitBytes', 'at least 1024');
}

export function loadGenesis(path: string): Genesis {
  try {
    return parseGenesis(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    if (err instanceof MedLedgerError) throw err;
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `cannot read genesis ${path}: ${(err as Error).message}`);
  }
}
