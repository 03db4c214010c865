import type { Command } from 'commander';
import { chainClient } from '../context.js';
import { withChainOptions, type ChainOptions } from '../options.js';
import { action, isoTime } from '../output.js';

export function registerStatusCommands(program: Command): void {
  withChainOptions(program.command('status').description("a node's chain id, height and peers (GET /status)")).action(
    action<ChainOptions>(async (opts) => {
      const s = await chainClient(opts).status();
      return {
        json: s,
        text: [
          `chain:     ${s.chainId}`,
          `height:    ${s.height} (${s.latestBlockHash}, ${isoTime(s.latestBlockTime)})`,
          `node:      ${s.nodeId}${s.validator ? ` (validator ${s.validatorAddress})` : ''}`,
          `peers:     ${s.peers}`,
          `catching up: ${s.catchingUp ? 'yes' : 'no'}`,
        ].join('\n'),
      };
    }),
  );
}
