import { InvalidArgumentError, type Command } from 'commander';
import { chainClient } from '../context.js';
import { parseIntOption, withChainOptions, type ChainOptions } from '../options.js';
import { action, isoTime } from '../output.js';

const parseHeight = (value: string): number | 'latest' => {
  if (value === 'latest') return value;
  try {
    return parseIntOption(1, Number.MAX_SAFE_INTEGER)(value);
  } catch {
    throw new InvalidArgumentError('expected a positive integer or "latest"');
  }
};

export function registerChainCommands(program: Command): void {
  const tx = program.command('tx').description('transactions');
  withChainOptions(
    tx.command('show').description('a committed tx and its result').requiredOption('--hash <hash>', 'tx hash (hex)'),
  ).action(
    action<ChainOptions & { hash: string }>(async (opts) => {
      const t = await chainClient(opts).tx(opts.hash);
      return {
        json: t,
        text: [
          `tx:     ${t.hash}`,
          `type:   ${t.tx.type} (nonce ${t.tx.nonce})`,
          `from:   ${t.tx.from}`,
          `block:  ${t.height}, index ${t.index}`,
          `result: ${t.code === 0 ? 'ok' : `code ${t.code}: ${t.log}`}`,
        ].join('\n'),
      };
    }),
  );

  const block = program.command('block').description('blocks');
  withChainOptions(
    block
      .command('show')
      .description('a committed block')
      .requiredOption('--height <height>', 'block height, or "latest"', parseHeight),
  ).action(
    action<ChainOptions & { height: number | 'latest' }>(async (opts) => {
      const b = await chainClient(opts).block(opts.height);
      const h = b.header;
      return {
        json: b,
        text: [
          `block:    ${h.height} (${h.hash})`,
          `time:     ${isoTime(h.time)}, round ${h.round}`,
          `proposer: ${h.proposer}`,
          `txs:      ${b.txs.length}`,
          `app hash: ${h.appHash}`,
        ].join('\n'),
      };
    }),
  );
}
