import { readFileSync } from 'node:fs';
import { MedLedgerError, isRecord, parseGenesis, type Genesis } from '@medledger/types';
import { NodeErrorCode } from '../errors.js';
import { DEFAULT_NODE_CONFIG, type NodeConfig, type NodeConfigOverrides } from './options.js';

/** Where a setting's value came from, for `medledger config validate`. */
export type ConfigSource = 'default' | 'file' | `env ${string}` | 'flag';

export interface LoadedNodeConfig {
  config: NodeConfig;
  /** Per setting (dotted path, e.g. `api.port`), where its value came from. */
  sources: Record<string, ConfigSource>;
}

/**
 * Config precedence: defaults < config/node.json < MEDLEDGER_* environment < explicit overrides
 * (CLI flags). Unknown keys are errors so a typo never silently falls back to a default.
 */
export function loadNodeConfig(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: NodeConfigOverrides = {},
): NodeConfig {
  return loadNodeConfigWithSources(path, env, overrides).config;
}

export function loadNodeConfigWithSources(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: NodeConfigOverrides = {},
): LoadedNodeConfig {
  let file: unknown;
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `cannot read ${path}: ${(err as Error).message}`);
  }
  const sources: Record<string, ConfigSource> = Object.fromEntries(CONFIG_SETTINGS.map((s) => [s.path, 'default']));
  const merged = merge(structuredClone(DEFAULT_NODE_CONFIG), file, 'config', '', sources, 'file') as NodeConfig;
  applyEnv(merged, env, sources);
  const config = merge(merged, overrides, 'overrides', '', sources, 'flag') as NodeConfig;
  validateNodeConfig(config);
  return { config, sources };
}

function merge(
  base: Record<string, unknown> | NodeConfig,
  patch: unknown,
  at: string,
  prefix: string,
  sources: Record<string, ConfigSource>,
  source: ConfigSource,
): unknown {
  if (!isRecord(patch)) throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${at}: expected an object`);
  const out = base as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (!(k in out)) throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${at}.${k}: unknown setting`);
    const path = prefix ? `${prefix}.${k}` : k;
    if (isRecord(out[k]) && !Array.isArray(out[k])) {
      out[k] = merge(out[k] as Record<string, unknown>, v, `${at}.${k}`, path, sources, source);
    } else {
      out[k] = v;
      sources[path] = source;
    }
  }
  return out;
}

/** One setting: its dotted path, the environment variable that overrides it, its default. */
export interface ConfigSetting {
  path: string;
  env: string;
  default: unknown;
}

/** `api.bodyLimitBytes` → `MEDLEDGER_API_BODY_LIMIT_BYTES`. */
export function envNameOf(path: string): string {
  return (
    'MEDLEDGER_' +
    path
      .replace(/\./g, '_')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toUpperCase()
  );
}

function leaves(v: Record<string, unknown>, prefix = ''): ConfigSetting[] {
  return Object.entries(v).flatMap(([k, x]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    return isRecord(x) && !Array.isArray(x) ? leaves(x, path) : [{ path, env: envNameOf(path), default: x }];
  });
}

/**
 * Every node setting, derived from the defaults: each has an environment variable, so a
 * container can be configured without a file (documented in docs/CONFIG.md; a test keeps the
 * document complete).
 */
export const CONFIG_SETTINGS: readonly ConfigSetting[] = leaves(
  DEFAULT_NODE_CONFIG as unknown as Record<string, unknown>,
);

function parseEnvValue(setting: ConfigSetting, raw: string): unknown {
  const bad = (what: string) =>
    new MedLedgerError(NodeErrorCode.ConfigInvalid, `${setting.env}=${JSON.stringify(raw)}: expected ${what}`);
  const d = setting.default;
  if (typeof d === 'number') {
    if (!/^\d+$/.test(raw)) throw bad('a non-negative integer');
    return Number(raw);
  }
  if (typeof d === 'boolean') {
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    throw bad('true or false');
  }
  if (Array.isArray(d)) {
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }
  return raw;
}

function applyEnv(c: NodeConfig, env: NodeJS.ProcessEnv, sources: Record<string, ConfigSource>): void {
  for (const setting of CONFIG_SETTINGS) {
    const raw = env[setting.env];
    if (raw === undefined || raw === '') continue;
    const parts = setting.path.split('.');
    let target = c as unknown as Record<string, unknown>;
    for (const p of parts.slice(0, -1)) target = target[p] as Record<string, unknown>;
    target[parts[parts.length - 1]!] = parseEnvValue(setting, raw);
    sources[setting.path] = `env ${setting.env}`;
  }
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

export function validateNodeConfig(c: NodeConfig): void {
  const fail = (field: string, what: string) => {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${field}: ${what}`);
  };
  const port = (p: number, field: string) => (Number.isInteger(p) && p >= 0 && p < 65536) || fail(field, 'a TCP port');
  const text = (v: unknown, field: string) =>
    (typeof v === 'string' && v.trim() !== '') || fail(field, 'a non-empty string');
  const positive = (v: unknown, field: string) =>
    (typeof v === 'number' && Number.isInteger(v) && v > 0) || fail(field, 'a positive integer');
  text(c.name, 'name');
  text(c.org, 'org');
  text(c.api.host, 'api.host');
  text(c.p2p.host, 'p2p.host');
  port(c.api.port, 'api.port');
  port(c.p2p.port, 'p2p.port');
  if (!Array.isArray(c.p2p.bootstrap) || c.p2p.bootstrap.some((a) => typeof a !== 'string' || !a.includes('/p2p/'))) {
    fail('p2p.bootstrap', 'a list of multiaddrs ending in /p2p/<peerId>');
  }
  if (!LOG_LEVELS.includes(c.log.level)) fail('log.level', LOG_LEVELS.join('|'));
  for (const k of ['maxTxs', 'maxBytes', 'maxPerAccount'] as const) positive(c.mempool[k], `mempool.${k}`);
  if (!Number.isInteger(c.mempool.verifyThreads) || c.mempool.verifyThreads < 0 || c.mempool.verifyThreads > 16)
    fail('mempool.verifyThreads', '0..16');
  if (!Number.isInteger(c.api.bodyLimitBytes) || c.api.bodyLimitBytes < 1024)
    fail('api.bodyLimitBytes', 'at least 1024');
  positive(c.api.commitWaitMs, 'api.commitWaitMs');
  if (typeof c.sync.verifyTxSignatures !== 'boolean') fail('sync.verifyTxSignatures', 'true or false');
  if (typeof c.faults !== 'boolean') fail('faults', 'true or false');
}

export function loadGenesis(path: string): Genesis {
  try {
    return parseGenesis(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    if (err instanceof MedLedgerError) throw err;
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `cannot read genesis ${path}: ${(err as Error).message}`);
  }
}
