import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cliJson, randomBasePort, runCli, tempDir } from './helpers/harness.js';

// The ports a node listens on, as `medledger start` reports them.

const blockers: Server[] = [];
after(() => blockers.forEach((b) => b.close()));

async function occupy(port: number): Promise<void> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  blockers.push(s);
}

describe('medledger start', () => {
  const home = join(tempDir('ports'), 'home');
  const apiPort = randomBasePort();
  const p2pPort = apiPort + 1;
  cliJson(['init', '--home', home, '--api-port', String(apiPort), '--p2p-port', String(p2pPort)]);

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

  test('a taken API port is one error line naming the port', async () => {
    // The p2p port moved off the taken one: the API is the next listener to start.
    await occupy(apiPort);
    assertOneLineFailure(
      ['start', '--home', home, '--p2p-port', String(p2pPort + 1)],
      new RegExp(`^error: API_LISTEN_FAILED: port ${apiPort} is already in use \\(api\\.port, on 127\\.0\\.0\\.1\\)$`),
    );
  });
});
