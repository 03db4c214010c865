// Runs the compiled tests with Node's test runner. `unit` = every package's test/, `e2e` = the
// multi-node tests (run one file at a time: they start real processes and ports).
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const which = process.argv[2] ?? 'all';
const root = new URL('..', import.meta.url).pathname;

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => join(dir, f))
    .sort();
}

const unit = readdirSync(join(root, 'packages')).flatMap((p) => testFiles(join(root, 'packages', p, 'dist', 'test')));
const e2e = testFiles(join(root, 'dist', 'test', 'e2e'));
const polyfill = join(root, 'packages', 'types', 'dist', 'src', 'polyfill.js');

function run(files, concurrency) {
  if (files.length === 0) return 0;
  const args = ['--import', polyfill, '--test', `--test-concurrency=${concurrency}`, ...files];
  return spawnSync(process.execPath, args, { stdio: 'inherit' }).status ?? 1;
}

let status = 0;
if (which === 'all' || which === 'unit') status ||= run(unit, 2);
if (which === 'all' || which === 'e2e') status ||= run(e2e, 1);
process.exit(status);
