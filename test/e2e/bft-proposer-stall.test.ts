import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { proposerFor } from '@medledger/consensus';
import { fromHex, toHex } from '@medledger/types';
import { assertNoFork, maxHeight, startTestnet, waitFor, waitForHeight, type Testnet } from './helpers/harness.js';
import {
  assertAdvances,
  assertNoAckedTxLost,
  block,
  contAll,
  diagnosed,
  metricSamples,
  metricsText,
  startLoad,
} from './helpers/bft.js';

// The proposer of the next height freezes (SIGSTOP): its turn times out, a later round's
// proposer gets the block decided (header.round >= 1), the miss is counted in
// medledger_proposals_missed_total, and heights keep coming. After SIGCONT it signs again.
// A light load runs across the stall: every tx the API acknowledged is committed exactly once.

let net: Testnet;

before(async () => {
  net = await startTestnet(4);
  await waitForHeight(net.nodes, 2, 30_000);
});

after(async () => {
  if (net) contAll(net);
  await net?.stopAll();
});

const missedOf = async (api: string, address: string) =>
  metricSamples(await metricsText(api), 'medledger_proposals_missed_total').find((s) =>
    s.labels.includes(`validator="${address}"`),
  )?.value ?? 0;

test(
  'SIGSTOP the next proposer: a round change, heights advance; SIGCONT: it rejoins; acked txs commit once',
  { timeout: 90_000 },
  () =>
    diagnosed(net, async () => {
      const load = startLoad(net);
      await waitFor('some txs acknowledged before the stall', () => load.acked().length >= 4, 30_000);
      const addresses = net.info.map((n) => fromHex(n.validatorAddress));
      const proposerAt = (h: number) => toHex(proposerFor(addresses, h, 0));
      const next = (await maxHeight(net.nodes)) + 1;
      const victimInfo = net.info.find((n) => n.validatorAddress === proposerAt(next))!;
      const victim = net.nodes.find((n) => n.name === victimInfo.name)!;
      const others = net.nodes.filter((n) => n !== victim);
      const missedBefore = await missedOf(others[0]!.api, victimInfo.validatorAddress);

      const faultFrom = Date.now();
      victim.signal('SIGSTOP');
      const stoppedAt = await maxHeight(others);
      // A proposal already sent before the freeze may still be decided at stoppedAt + 1; from
      // stoppedAt + 2 on, every height whose round-0 proposer is the victim needs another round.
      const turn = Array.from({ length: 4 }, (_, i) => stoppedAt + 2 + i).find(
        (h) => proposerAt(h) === victimInfo.validatorAddress,
      )!;
      const t0 = Date.now();
      await waitForHeight(others, turn, 30_000);
      const b = await block(others[0]!.api, turn);
      assert.ok(b.header.round >= 1, `height ${turn} (victim's turn) decided in round ${b.header.round}`);
      assert.notEqual(b.header.proposer, victimInfo.validatorAddress);
      console.log(`proposer stall: height ${turn} decided in round ${b.header.round} after ${Date.now() - t0} ms`);
      await waitFor(
        'medledger_proposals_missed_total to count the missed turn',
        async () => (await missedOf(others[0]!.api, victimInfo.validatorAddress)) > missedBefore,
        10_000,
      );
      await assertAdvances(others, 2, 20_000);

      victim.signal('SIGCONT');
      const faultTo = Date.now();
      const resumedAt = await maxHeight(others);
      await waitFor(
        `${victim.name} to sign or propose again after height ${resumedAt}`,
        async () => {
          const top = await maxHeight(others);
          for (let h = resumedAt + 1; h <= top; h++) {
            const x = await block(others[0]!.api, h);
            if (x.header.proposer === victimInfo.validatorAddress) return true;
            if (x.lastCommit?.signatures.some((s) => s.validator === victimInfo.validatorAddress)) return true;
          }
          return undefined;
        },
        30_000,
      );
      await assertNoAckedTxLost(net, load, { from: faultFrom, to: faultTo }, 'proposer stall');
      await waitForHeight(net.nodes, await maxHeight(others), 20_000);
      await assertNoFork(net.nodes);
      await assertAdvances(net.nodes, 2, 20_000);
    }),
);
