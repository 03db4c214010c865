import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertNoFork,
  maxHeight,
  startTestnet,
  waitFor,
  waitForHeight,
  type NodeProcess,
  type Testnet,
} from './helpers/harness.js';
import {
  assertAdvances,
  assertHalted,
  assertNoAckedTxLost,
  commitSigners,
  contAll,
  diagnosed,
  startLoad,
} from './helpers/bft.js';

// Losing 2 of 4 validators (more than f = 1) must halt commits without a fork, and commits
// must resume within 10 s of both being back. Two variants on one network: SIGSTOP/SIGCONT
// (a frozen process that keeps its sockets and state) and SIGKILL + restart (state from disk).
// A light load runs across each fault: every tx the API acknowledged is committed exactly once.

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

/**
 * Commits resumed above `halted` because the stopped validators came back: 2 of 4 cannot
 * commit alone, so the certificate of the first height above the halt carries a precommit of
 * `back[0]` or `back[1]`.
 */
async function assertResumedWith(back: readonly NodeProcess[], halted: number): Promise<void> {
  await waitForHeight(net.nodes, halted + 2, 20_000);
  const signers = await commitSigners(net.nodes[0]!.api, halted + 1);
  const addresses = back.map((n) => net.info.find((i) => i.name === n.name)!.validatorAddress);
  assert.ok(signers.length >= 3, `certificate of ${halted + 1}: ${signers.length} precommits`);
  assert.ok(
    signers.some((s) => addresses.includes(s)),
    `certificate of ${halted + 1} has no precommit of ${back.map((n) => n.name).join(',')}`,
  );
}

test(
  'SIGSTOP 2 of 4: commits halt, no fork; SIGCONT: commits resume within 10 s; acked txs commit once',
  { timeout: 90_000 },
  () =>
    diagnosed(net, async () => {
      const [a, b, c, d] = nodes4(net);
      const load = startLoad(net);
      await waitFor('some txs acknowledged before the fault', () => load.acked().length >= 4, 30_000);

      const faultFrom = Date.now();
      c.signal('SIGSTOP');
      d.signal('SIGSTOP');
      const halted = await assertHalted([a, b], 3000);
      await assertNoFork([a, b]);

      c.signal('SIGCONT');
      d.signal('SIGCONT');
      const faultTo = Date.now();
      const resumed = await assertAdvances([a, b], 1, RESUME_MS);
      console.log(`SIGSTOP variant: halted at ${halted}; resumed ${resumed.ms} ms after SIGCONT`);
      await assertResumedWith([c, d], halted);
      await assertAdvances(net.nodes, 2, 20_000);

      await assertNoAckedTxLost(net, load, { from: faultFrom, to: faultTo }, 'SIGSTOP variant');
      await waitForHeight(net.nodes, await maxHeight([a, b]), 20_000);
      await assertNoFork(net.nodes);
    }),
);

test(
  'SIGKILL 2 of 4 and restart: commits halt, no fork; restarted: commits resume within 10 s; acked txs commit once',
  { timeout: 120_000 },
  () =>
    diagnosed(net, async () => {
      const [a, b, c, d] = nodes4(net);
      const load = startLoad(net);
      await waitFor('some txs acknowledged before the fault', () => load.acked().length >= 4, 30_000);

      const faultFrom = Date.now();
      await Promise.all([c.stop('SIGKILL'), d.stop('SIGKILL')]);
      const halted = await assertHalted([a, b], 3000);
      await assertNoFork([a, b]);

      c.start();
      d.start();
      await Promise.all([c.waitReady(30_000), d.waitReady(30_000)]);
      const faultTo = Date.now();
      // The bound: a height above the halt within RESUME_MS of both being back, or this throws.
      const resumed = await waitFor(
        `commits to resume above ${halted} within ${RESUME_MS} ms`,
        async () => {
          const h = await maxHeight(net.nodes);
          return h > halted ? { height: h, ms: Date.now() - faultTo } : undefined;
        },
        RESUME_MS,
      );
      console.log(`SIGKILL variant: halted at ${halted}; resumed ${resumed.ms} ms after both restarted`);
      await assertResumedWith([c, d], halted);
      await assertAdvances(net.nodes, 2, 20_000);

      await assertNoAckedTxLost(net, load, { from: faultFrom, to: faultTo }, 'SIGKILL variant');
      await waitForHeight(net.nodes, await maxHeight([a, b]), 20_000);
      await assertNoFork(net.nodes);
    }),
);
