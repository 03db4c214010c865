import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  assertNoFork,
  maxHeight,
  startTestnet,
  status,
  waitFor,
  waitForHeight,
  type Testnet,
} from './helpers/harness.js';
import { TestSigner } from './helpers/txs.js';
import {
  assertAdvances,
  assertCommittedExactlyOnce,
  block,
  diagnosed,
  submitAndWait,
  type SubmitOutcome,
} from './helpers/bft.js';

// Crash fault: SIGKILL one of 4 validators while txs flow. The other three (2f+1) keep
// committing; the restarted node syncs, rejoins consensus and signs again; every tx the API
// acknowledged is committed exactly once.

let net: Testnet;

before(async () => {
  net = await startTestnet(4);
});

after(async () => {
  await net?.stopAll();
});

test(
  'SIGKILL 1 of 4: the rest commit, the node syncs and signs again, acked txs commit once',
  { timeout: 150_000 },
  () =>
    diagnosed(net, async () => {
      await waitForHeight(net.nodes, 2, 30_000);
      const victimIndex = 2;
      const victim = net.nodes[victimIndex]!;
      const others = net.nodes.filter((n) => n !== victim);

      // One signer per node, each sending one tx at a time (?wait=commit) to its own node, so a
      // tx lost with a killed node never leaves a nonce gap in front of another signer's txs.
      let loading = true;
      const outcomes: SubmitOutcome[] = [];
      const loops = net.nodes.map(async (node, i) => {
        const signer = new TestSigner(net.info[i]!.orgKey, net.chainId);
        while (loading) {
          const r = await submitAndWait(node.api, signer.registerPatient());
          outcomes.push(r);
          if (r.status !== 200) return; // the node died under it: this signer stops
        }
      });
      await waitFor(
        'some txs committed before the kill',
        () => outcomes.filter((o) => o.status === 200).length >= 4,
        30_000,
      );

      victim.signal('SIGKILL');
      await waitFor('victim exits', () => !victim.running, 10_000);
      const killedAt = await maxHeight(others);
      const live = await assertAdvances(others, 3, 30_000);
      console.log(`crash: 3 of 4 committed ${live.to - live.from} blocks in ${live.ms} ms after the kill`);

      // The restarted node re-verifies every synced tx signature (the consortium test covers the
      // default, where commit certificates vouch for them).
      victim.start({ MEDLEDGER_SYNC_VERIFY_TX_SIGNATURES: 'true' });
      await victim.waitReady(30_000);
      const target = await maxHeight(others);
      let sawCatchingUp = false;
      const synced = Date.now();
      await waitFor(
        `${victim.name} to reach height ${target}`,
        async () => {
          const s = await status(victim.api);
          sawCatchingUp ||= s.catchingUp;
          return s.height >= target;
        },
        30_000,
      );
      console.log(
        `crash: restarted node synced from ${killedAt} to ${target} in ${Date.now() - synced} ms (catchingUp seen: ${sawCatchingUp})`,
      );

      // It signs again: its precommit is in a later block's commit certificate, or it proposes.
      const rejoinFrom = (await status(victim.api)).height + 1;
      const address = net.info[victimIndex]!.validatorAddress;
      const rejoined = await waitFor(
        `${victim.name} (${address}) to sign or propose a block after ${rejoinFrom}`,
        async () => {
          const top = await maxHeight(others);
          for (let h = rejoinFrom; h <= top; h++) {
            const b = await block(others[0]!.api, h);
            if (b.header.proposer === address) return `proposed height ${h}`;
            if (b.lastCommit?.signatures.some((s) => s.validator === address)) return `signed the commit of ${h - 1}`;
          }
          return undefined;
        },
        30_000,
      );
      console.log(`crash: restarted node ${rejoined}`);

      loading = false;
      await Promise.all(loops);
      const acked = outcomes.filter((o) => o.status === 200);
      assert.ok(acked.length >= 4, `acknowledged txs: ${acked.length}`);
      console.log(`crash: ${acked.length} acknowledged txs of ${outcomes.length} submitted`);
      await waitForHeight(net.nodes, Math.max(...acked.map((o) => o.height ?? 0)), 30_000);
      await assertCommittedExactlyOnce(net.nodes, acked);

      await assertNoFork(net.nodes);
      await assertAdvances(net.nodes, 2, 20_000);
    }),
);
