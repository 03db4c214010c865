import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertNoFork, maxHeight, startTestnet, waitFor, waitForHeight, type Testnet } from './helpers/harness.js';
import {
  assertAdvances,
  assertHalted,
  assertNoAckedTxLost,
  blockPeers,
  diagnosed,
  metricSamples,
  metricsText,
  startLoad,
} from './helpers/bft.js';

// A 2|2 partition through the fault layer (each side blocks the other side's peer ids): neither
// side has 2f+1 = 3 validators, so commits halt on both sides without a fork; once healed
// (empty blockPeers everywhere) commits resume within a bound. A light load runs across the
// partition: every tx the API acknowledged is committed exactly once.

const RESUME_MS = 10_000;
let net: Testnet;

before(async () => {
  net = await startTestnet(4, { faults: true });
  await waitForHeight(net.nodes, 2, 30_000);
});

after(async () => {
  await net?.stopAll();
});

test(
  '2|2 partition: commits halt without a fork; healed: commits resume; acked txs commit once',
  { timeout: 90_000 },
  () =>
    diagnosed(net, async () => {
      const left = net.nodes.slice(0, 2);
      const right = net.nodes.slice(2);
      const ids = (side: typeof left) => side.map((n) => net.info.find((i) => i.name === n.name)!.peerId);
      const load = startLoad(net);
      await waitFor('some txs acknowledged before the partition', () => load.acked().length >= 4, 30_000);

      const faultFrom = Date.now();
      await Promise.all([...left.map((n) => blockPeers(n, ids(right))), ...right.map((n) => blockPeers(n, ids(left)))]);
      const halted = await assertHalted(net.nodes, 3000);
      await assertNoFork(net.nodes);

      await Promise.all(net.nodes.map((n) => blockPeers(n, [])));
      const faultTo = Date.now();
      const resumed = await assertAdvances(net.nodes, 1, RESUME_MS);
      console.log(`partition: halted at ${halted}; resumed ${resumed.ms} ms after healing`);
      // What healed it: the votes each side sent during the partition never reached the other
      // side, and only the drivers' resends of their own messages deliver them.
      const resent = await Promise.all(
        net.nodes.map(
          async (n) =>
            metricSamples(await metricsText(n.api), 'medledger_consensus_resent_messages_total')[0]?.value ?? 0,
        ),
      );
      assert.ok(
        resent.some((r) => r > 0),
        `medledger_consensus_resent_messages_total: ${resent.join(',')}`,
      );
      await assertAdvances(net.nodes, 2, 20_000);
      await assertNoAckedTxLost(net, load, { from: faultFrom, to: faultTo }, 'partition');
      await waitForHeight(net.nodes, await maxHeight(net.nodes), 20_000);
      await assertNoFork(net.nodes);
    }),
);
