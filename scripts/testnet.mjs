// `npm run testnet`: a 4-validator network on loopback. Reuses .testnet/ when it exists.
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
const child = spawn(process.execPath, [bin, 'testnet', 'start', '--dir', dir], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('exit', (code) => process.exit(code ?? 0));
