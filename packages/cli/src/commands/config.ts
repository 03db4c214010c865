import type { Command } from 'commander';
import { CONFIG_SETTINGS, checkNodeHome } from '@medledger/node';
import { action } from '../output.js';

/** `medledger config ...`: the node's settings (docs/CONFIG.md). */
export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description("a node's settings: file, MEDLEDGER_* environment, flags");

  config
    .command('validate')
    .description(
      'check a node home as `start` would (config file + environment, genesis, node key) without starting it; ' +
        'prints every setting with where its value came from',
    )
    .option('--home <dir>', 'node home', '.')
    .option('--json', 'print exactly one JSON object on stdout')
    .action(
      action<{ home: string; json?: boolean }>(async (opts) => {
        const r = checkNodeHome(opts.home);
        const settings = CONFIG_SETTINGS.map((s) => {
          const value = s.path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], r.config);
          return { setting: s.path, value, source: r.sources[s.path] ?? 'default', env: s.env };
        });
        const width = Math.max(...settings.map((s) => s.setting.length));
        const text = [
          `ok: ${r.home} (chain ${r.genesis.chainId}, ${r.genesis.validators} genesis validators)`,
          `node key ${r.keys.node.publicKey} (${r.keys.node.encrypted ? 'encrypted' : 'NOT encrypted'})`,
          ...settings.map((s) => `  ${s.setting.padEnd(width)}  ${JSON.stringify(s.value)}  (${s.source})`),
          ...r.warnings.map((w) => `warning: ${w}`),
        ].join('\n');
        return {
          json: { ok: true, home: r.home, genesis: r.genesis, keys: r.keys, settings, warnings: r.warnings },
          text,
        };
      }),
    );
}
