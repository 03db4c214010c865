import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cliJson, NodeProcess, randomBasePort, removeTestDir, runCli, tempDir, waitFor } from './helpers/harness.js';

// The ports a node listens on: taken ones as `medledger start` reports them, moved ones as the
// other commands find them.

const blockers: Server[] = [];
after(() => blockers.forEach((b) => b.close()));

async function occupy(port: number): Promise<void> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  blockers.push(s);
}

describe('medledger start', () => {
  const dir = tempDir('ports');
  after(() => removeTestDir(dir));
  const home = join(dir, 'home');
  const apiPort = randomBasePort();
  const p2pPort = apiPort + 1;
  cliJson(['init', '--home', home, '--api-port', String(apiPort), '--p2p-port', String(p2pPort)]);
  const record = join(home, 'data', 'api.json');

  /** Fails with exactly one stderr line, `error: CODE: ...`, and nothing on stdout. */
  function assertOneLineFailure(args: string[], pattern: RegExp): void {
    const r = runCli(args);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, pattern);
  }

  test('a taken p2p port is one error line naming the port, without libp2p stack frames', async () => {
    await occupy(p2pPort);
    assertOneLineFailure(
      ['start', '--home', home],
      new RegExp(`^error: P2P_LISTEN_FAILED: port ${p2pPort} is already in use \\(p2p\\.port, on 127\\.0\\.0\\.1\\)$`),
    );
  });

  test('--home commands reach a node whose API port --api-port moved, while it runs', async () => {
    const moved = apiPort + 3;
    const node = new NodeProcess('moved', home, `http://127.0.0.1:${moved}`);
    node.start({}, ['--api-port', String(moved), '--p2p-port', String(apiPort + 2)]);
    try {
      const { chainId } = await node.waitReady();
      // The API answers while the node is still starting; `start` records the moved port after.
      await waitFor('the running API record', () => existsSync(record), 10_000);
      assert.equal(cliJson<{ chainId: string }>(['status', '--home', home]).chainId, chainId);
    } finally {
      assert.equal(await node.stop('SIGTERM'), 0, node.output);
    }
    // Stopped, it no longer claims the port: --home commands go back to config/node.json.
    assert.equal(existsSync(record), false);
    const r = runCli(['status', '--home', home, '--json']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`UNREACHABLE: .*:${apiPort}\\b`));
  });

  test('a taken API port is one error line naming the port', async () => {
    // The p2p port moved off the taken one: the API is the next listener to start.
    await occupy(apiPort);
    assertOneLineFailure(
      ['start', '--home', home, '--p2p-port', String(p2pPort + 1)],
      new RegExp(`^error: API_LISTEN_FAILED: port ${apiPort} is already in use \\(api\\.port, on 127\\.0\\.0\\.1\\)$`),
    );
  });
});
