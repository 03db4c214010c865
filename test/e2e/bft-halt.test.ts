import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertNoFork, maxHeight, startTestnet, waitFor, waitForHeight, type Testnet } from './helpers/harness.js';
import { assertAdvances, assertHalted, contAll, diagnosed } from './helpers/bft.js';

// Losing 2 of 4 validators (more than f = 1) must halt commits without a fork, and commits
// must resume within 10 s of both being back. Two variants on one network: SIGSTOP/SIGCONT
// (a frozen process that keeps its sockets and state) and SIGKILL + restart (state from disk).

const RESUME_MS = 10_000;
const nodes4 = (t: Testnet) => [t.nodes[0]!, t.nodes[1]!, t.nodes[2]!, t.nodes[3]!] as const;
let net: Testnet;

before(async () => {
  net = await startTestnet(4);
  await waitForHeight(net.nodes, 2, 30_000);
});

after(async () => {
  if (net) contAll(net);
  await net?.stopAll();
});

test('SIGSTOP 2 of 4: commits halt, no fork; SIGCONT: commits resume within 10 s', { timeout: 90_000 }, () =>
  diagnosed(net, async () => {
    const [a, b, c, d] = nodes4(net);
    c.signal('SIGSTOP');
    d.signal('SIGSTOP');
    const halted = await assertHalted([a, b], 3000);
    await assertNoFork([a, b]);

    c.signal('SIGCONT');
    d.signal('SIGCONT');
    const resumed = await assertAdvances([a, b], 1, RESUME_MS);
    console.log(`SIGSTOP variant: halted at ${halted}; resumed ${resumed.ms} ms after SIGCONT`);
    await assertAdvances(net.nodes, 2, 20_000);
    await waitForHeight(net.nodes, await maxHeight([a, b]), 20_000);
    await assertNoFork(net.nodes);
  }),
);

test(
  'SIGKILL 2 of 4 and restart: commits halt, no fork; restarted: commits resume within 10 s',
  { timeout: 120_000 },
  () =>
    diagnosed(net, async () => {
      const [a, b, c, d] = nodes4(net);
      await Promise.all([c.stop('SIGKILL'), d.stop('SIGKILL')]);
      const halted = await assertHalted([a, b], 3000);
      await assertNoFork([a, b]);

      c.start();
      d.start();
      await Promise.all([c.waitReady(30_000), d.waitReady(30_000)]);
      const t0 = Date.now();
      const resumed = await waitFor(
        `commits to resume above ${halted}`,
        async () => ((await maxHeight(net.nodes)) > halted ? true : undefined),
        RESUME_MS,
      );
      assert.ok(resumed);
      console.log(`SIGKILL variant: halted at ${halted}; resumed ${Date.now() - t0} ms after both restarted`);
      await assertAdvances(net.nodes, 2, 20_000);
      await waitForHeight(net.nodes, await maxHeight([a, b]), 20_000);
      await assertNoFork(net.nodes);
    }),
);
