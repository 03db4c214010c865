import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CLI, initTestnet, removeTestDir, status, waitFor } from './helpers/harness.js';

// `medledger testnet start` as an operator runs it: one process that starts a node process per
// validator and stops them all.

interface Run {
  child: ChildProcess;
  dir: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const runs: Run[] = [];
after(() => {
  for (const r of runs) {
    // Its own process group (detached): this reaches the nodes too, whatever the test left.
    try {
      process.kill(-r.child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    removeTestDir(r.dir);
  }
});

/** A 2-validator testnet's directory, chain id and its nodes' API URLs. */
function twoNodes(): { dir: string; chainId: string; apis: string[] } {
  const { dir, chainId, nodes } = initTestnet(2, [], 'testnet-start');
  return { dir, chainId, apis: nodes.map((n) => n.api) };
}

/** `testnet start` in a process group of its own, as a terminal runs a foreground job. */
function startTestnet(dir: string): Run {
  const child = spawn(process.execPath, [CLI, 'testnet', 'start', '--dir', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const run = { child, dir, output: () => output, exited };
  runs.push(run);
  return run;
}

const nodeLog = (dir: string, name: string) => readFileSync(join(dir, name, 'logs', 'node.log'), 'utf8');
const stoppedInOrder = (dir: string, name: string) => /"msg":"node stopped"\}\n$/.test(nodeLog(dir, name));

/**
 * Every node answers as a node of this chain, and the network commits: with 2 validators a
 * block needs both, so every node's height moving past where it first answered shows them
 * running together.
 */
async function waitUp(run: Run, apis: string[], chainId: string): Promise<void> {
  const withOutput = (err: Error) => {
    throw new Error(`${err.message}\n--- testnet output:\n${run.output()}`, { cause: err });
  };
  const first = await waitFor('every node API', () => Promise.all(apis.map((a) => status(a))), 60_000).catch(
    withOutput,
  );
  for (const [i, s] of first.entries()) {
    assert.equal(s.chainId, chainId, `${apis[i]} answers for another chain`);
    assert.ok(Number.isInteger(s.height) && s.height >= 0, `${apis[i]} height ${s.height}`);
  }
  await waitFor(
    `every node to commit past height ${first.map((s) => s.height).join(',')}`,
    async () => (await Promise.all(apis.map((a) => status(a)))).every((s, i) => s.height > first[i]!.height),
    30_000,
  ).catch(withOutput);
}

describe('medledger testnet start', () => {
  test(
    'a Ctrl-C, then the same signal passed on by a wrapper, stops every node in order',
    { timeout: 90_000 },
    async () => {
      const { dir, chainId, apis } = twoNodes();
      const run = startTestnet(dir);
      await waitUp(run, apis, chainId);
      // The terminal's Ctrl-C reaches the whole group; scripts/testnet.mjs then passes it on.
      process.kill(-run.child.pid!, 'SIGINT');
      await new Promise((r) => setTimeout(r, 50));
      run.child.kill('SIGINT');
      const { code, signal } = await run.exited;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, run.output());
      for (const name of ['node0', 'node1']) {
        assert.match(run.output(), new RegExp(`^\\[${name}\\] exited \\(0\\)$`, 'm'));
        assert.ok(stoppedInOrder(dir, name), `${name} logged its stop`);
      }
    },
  );

  test(
    'a node that cannot start is named with its error, and the others are stopped',
    { timeout: 90_000 },
    async () => {
      const { dir, apis } = twoNodes();
      // node1's API port is taken before the testnet starts.
      const blocker = createServer();
      const port = Number(new URL(apis[1]!).port);
      await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', r));
      try {
        const run = startTestnet(dir);
        const { code } = await run.exited;
        const out = run.output();
        assert.equal(code, 1, out);
        assert.match(
          out,
          new RegExp(`^testnet: node1 FAILED TO START \\(exit code 1\\): API_LISTEN_FAILED: port ${port} `, 'm'),
        );
        assert.match(out, /^\[node0\] exited \(/m);
        const last = out.trim().split('\n').at(-1)!;
        assert.match(
          last,
          new RegExp(`^error: TESTNET_NODE_FAILED: node1 failed to start .*port ${port} is already in use`),
        );
        // node0 did not run on as if the network were healthy.
        await assert.rejects(status(apis[0]!));
      } finally {
        blocker.close();
      }
    },
  );

  test('killed outright, it leaves no node running: they see it gone and stop', { timeout: 90_000 }, async () => {
    const { dir, chainId, apis } = twoNodes();
    const run = startTestnet(dir);
    await waitUp(run, apis, chainId);
    run.child.kill('SIGKILL');
    await run.exited;
    await waitFor(
      'the nodes to stop',
      async () => {
        const answering = await Promise.all(
          apis.map((a) =>
            status(a).then(
              () => true,
              () => false,
            ),
          ),
        );
        return !answering.includes(true) && stoppedInOrder(dir, 'node0') && stoppedInOrder(dir, 'node1');
      },
      20_000,
    );
  });
});
