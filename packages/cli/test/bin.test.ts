import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file runs as dist/test/bin.test.js. */
const PKG = fileURLToPath(new URL('../../', import.meta.url));
const manifest = JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { bin: Record<string, string> };
const dir = mkdtempSync(join(tmpdir(), 'medledger-bin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function run(
  file: string,
  args: string[],
  viaNode: boolean,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const [cmd, argv] = viaNode ? [process.execPath, [file, ...args]] : [file, args];
  // The shebang resolves `node` through PATH: the one running this test comes first.
  const env = { PATH: `${join(process.execPath, '..')}:${process.env.PATH ?? ''}`, HOME: dir };
  return new Promise((done) => {
    execFile(cmd, argv, { env, cwd: dir }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

// npm links bins at `npm ci`, before anything is built: a bin under dist/ gets no link at all.
test('the declared medledger bin is a checked-in, executable file outside dist/', () => {
  const declared = manifest.bin.medledger;
  assert.ok(declared, 'package.json declares a medledger bin');
  const file = resolve(PKG, declared);
  const rel = relative(PKG, file);
  assert.ok(!rel.startsWith('..') && !rel.startsWith('dist'), `${declared} is in the source tree, not built`);
  assert.ok(statSync(file).isFile());
  accessSync(file, constants.X_OK);
  assert.match(readFileSync(file, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('the bin runs the built CLI, directly and through node', async () => {
  const file = resolve(PKG, manifest.bin.medledger!);
  for (const viaNode of [false, true]) {
    const r = await run(file, ['--help'], viaNode);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: medledger /);
    assert.equal(r.stderr, '');
  }
});

test('without a build, the bin says to run the build, in one error line', async () => {
  const file = resolve(PKG, manifest.bin.medledger!);
  // The same file in a package that has no dist/.
  const copy = join(dir, 'pkg', relative(PKG, file));
  mkdirSync(join(copy, '..'), { recursive: true });
  copyFileSync(file, copy);
  const r = await run(copy, ['--help'], true);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^error: NOT_BUILT: .*npm run build.*\n$/);
});
