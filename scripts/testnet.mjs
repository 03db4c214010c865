// `npm run testnet`: a 4-validator network on loopback. Reuses .testnet/ when it exists.
//
// Stopping it: npm passes SIGINT and SIGTERM on to this process (the npm script `exec`s node, so
// no shell sits in between to swallow them), and this process passes those and SIGHUP on to
// `testnet start`, which stops every node in order however many copies of a signal arrive (a
// Ctrl-C also reaches each process of the terminal's group directly). npm does not pass SIGHUP
// on and dies of it: this process then has a new parent, and stops the testnet as for SIGTERM.
// Killed outright, it closes the IPC channel to `testnet start`, which then stops the nodes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = `${root}packages/cli/dist/src/bin.js`;
const dir = process.env.MEDLEDGER_TESTNET_DIR ?? `${root}.testnet`;

if (!existsSync(`${dir}/testnet.json`)) {
  const init = spawnSync(process.execPath, [bin, 'testnet', 'init', '--validators', '4', '--dir', dir], {
    stdio: 'inherit',
  });
  if (init.status !== 0) process.exit(init.status ?? 1);
}
const child = spawn(process.execPath, [bin, 'testnet', 'start', '--dir', dir], {
  stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
});
const pass = (signal) => {
  if (child.exitCode === null && child.signalCode === null) child.kill(signal);
};
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => pass(signal));
const parent = process.ppid;
const orphaned = setInterval(() => {
  if (process.ppid === parent) return;
  clearInterval(orphaned);
  pass('SIGTERM');
}, 500);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
