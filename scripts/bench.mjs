// `npm run bench [-- options]`: the benchmark harness. Progress goes to stderr; the last line of
// stdout is one JSON object with the results of the mode that ran. See docs/PERFORMANCE.md.
//
//   --mode throughput|sync|index|execution   (default throughput)
//   throughput: --rate TPS --duration S --validators N --tx-bytes B --accounts A --patients P
//               --profile [--profile-dir DIR]  (node processes run with --cpu-prof)
//   sync:       --txs T (default 100000) --validators N
//   index:      --records R (default 1000000) --patients P (default 10000) --queries Q --db DIR
//   execution:  --blocks B (default 15) --block-txs N (default 2000) --patients P (default 1000)
//   all:        --base-port P, --keep (leave the scratch directories under .bench/),
//               --max-block-txs N (override the genesis chain parameter, to experiment)
import '@medledger/types/polyfill';
import { parseArgs } from 'node:util';
import { cleanup, log } from './bench/lib.mjs';

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'throughput' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '30' },
    validators: { type: 'string', default: '4' },
    'tx-bytes': { type: 'string' },
    accounts: { type: 'string', default: '64' },
    patients: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'profile-dir': { type: 'string' },
    txs: { type: 'string', default: '100000' },
    records: { type: 'string', default: '1000000' },
    queries: { type: 'string', default: '2000' },
    db: { type: 'string' },
    'base-port': { type: 'string' },
    keep: { type: 'boolean', default: false },
    'max-block-txs': { type: 'string' },
    blocks: { type: 'string', default: '15' },
    'block-txs': { type: 'string', default: '2000' },
  },
  allowPositionals: false,
});

const int = (name, v) => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}: expected a positive number, got ${v}`);
  return n;
};

const opts = {
  rate: int('rate', values.rate),
  duration: int('duration', values.duration),
  validators: int('validators', values.validators),
  txBytes: int('tx-bytes', values['tx-bytes']),
  accounts: int('accounts', values.accounts),
  patients: int('patients', values.patients),
  profile: values['profile-dir'] ?? values.profile,
  txs: int('txs', values.txs),
  records: int('records', values.records),
  queries: int('queries', values.queries),
  db: values.db,
  basePort: int('base-port', values['base-port']) ?? 30_000 + Math.floor(Math.random() * 100) * 200,
  keep: values.keep,
  maxBlockTxs: int('max-block-txs', values['max-block-txs']),
  blocks: int('blocks', values.blocks),
  blockTxs: int('block-txs', values['block-txs']),
};

try {
  if (values.mode === 'throughput') {
    const { runThroughput } = await import('./bench/throughput.mjs');
    await runThroughput({ ...opts, patients: opts.patients ?? 1000 });
  } else if (values.mode === 'sync') {
    const { runSync } = await import('./bench/sync.mjs');
    await runSync({ ...opts, patients: opts.patients ?? 1000 });
  } else if (values.mode === 'index') {
    const { runIndex } = await import('./bench/index-query.mjs');
    await runIndex({ ...opts, patients: opts.patients ?? 10_000 });
  } else if (values.mode === 'execution') {
    if (opts.blocks <= 3) throw new Error('--blocks: expected more than the 3 warm-up blocks');
    const { runExecution } = await import('./bench/execution.mjs');
    await runExecution({ ...opts, patients: opts.patients ?? 1000 });
  } else {
    throw new Error(`--mode: expected throughput, sync, index or execution, got ${values.mode}`);
  }
} catch (err) {
  log(`failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  // A failed run may leave pollers and keep-alive sockets behind: do not linger as a stray load.
  if (process.exitCode) process.exit();
}
