import type { Command } from 'commander';
import type { ValidatorJson } from '@medledger/client';
import { chainClient } from '../context.js';
import { withChainOptions, type ChainOptions } from '../options.js';
import { action, isoTime } from '../output.js';

export function registerStatusCommands(program: Command): void {
  withChainOptions(
    program
      .command('status')
      .description(
        "a node's height, round, peers and sync state, and each validator's last proposed and signed height and " +
          'missed blocks as this node saw them (GET /status and GET /validators)',
      ),
  ).action(
    action<ChainOptions>(async (opts) => {
      const client = chainClient(opts);
      const s = await client.status();
      // A node (or a proxy) without GET /validators still answers the status part.
      const v = await client.validators().catch(() => ({ height: s.height + 1, validators: [] as ValidatorJson[] }));
      const rows = v.validators.map((x: ValidatorJson) => ({
        name: x.name,
        org: x.org,
        address: x.address,
        lastProposedHeight: x.lastProposedHeight ?? 0,
        lastSignedHeight: x.lastSignedHeight ?? 0,
        missedBlocks: x.missedBlocks ?? 0,
        missedProposals: x.missedProposals ?? 0,
      }));
      const table = [
        `  ${'validator'.padEnd(14)} ${'org'.padEnd(16)} ${'proposed'.padStart(9)} ${'signed'.padStart(9)} ${'missed'.padStart(7)}`,
        ...rows.map(
          (r) =>
            `  ${r.name.padEnd(14)} ${r.org.padEnd(16)} ${String(r.lastProposedHeight).padStart(9)} ` +
            `${String(r.lastSignedHeight).padStart(9)} ${String(r.missedBlocks).padStart(7)}`,
        ),
      ];
      return {
        json: rows.length > 0 ? { ...s, validators: rows } : s,
        text: [
          `chain:     ${s.chainId}`,
          `height:    ${s.height} (${s.latestBlockHash}, ${isoTime(s.latestBlockTime)})`,
          `round:     ${s.round}`,
          `node:      ${s.nodeId}${s.validator ? ` (validator ${s.validatorAddress})` : ' (not a validator: following)'}`,
          `peers:     ${s.peers}`,
          `sync:      ${s.catchingUp ? 'catching up' : 'in sync'}`,
          `mempool:   ${s.mempoolSize} txs`,
          `validators at height ${v.height}:`,
          ...table,
        ].join('\n'),
      };
    }),
  );
}
