import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertNoFork, getJson, startTestnet, status, waitForHeight, type Testnet } from './helpers/harness.js';
import { assertAdvances, block, diagnosed, metricSamples, metricsText } from './helpers/bft.js';

// Healthy 4-validator network: the proposer rotates over every validator, GET /validators lists
// them, and /metrics exposes the consensus numbers an operator watches.

let net: Testnet;

before(async () => {
  net = await startTestnet(4);
});

after(async () => {
  await net?.stopAll();
});

test('the proposer rotates over all 4 validators', { timeout: 90_000 }, () =>
  diagnosed(net, async () => {
    const addresses = net.info.map((n) => n.validatorAddress).sort();
    const vals = await getJson<{ validators: { address: string }[] }>(`${net.nodes[0]!.api}/validators`);
    assert.deepEqual(vals.validators.map((v) => v.address).sort(), addresses, 'GET /validators lists the 4');

    const start = (await status(net.nodes[0]!.api)).height + 1;
    const span = 12;
    await waitForHeight(net.nodes, start + span - 1, 45_000);
    const proposers = new Set<string>();
    for (let h = start; h < start + span; h++) {
      const b = await block(net.nodes[h % 4]!.api, h);
      assert.equal(b.header.height, h);
      proposers.add(b.header.proposer);
    }
    assert.deepEqual([...proposers].sort(), addresses, `proposers over heights ${start}..${start + span - 1}`);

    await assertNoFork(net.nodes);
    await assertAdvances(net.nodes, 2, 20_000);
  }),
);

test('/metrics exposes the BFT numbers', { timeout: 30_000 }, () =>
  diagnosed(net, async () => {
    const text = await metricsText(net.nodes[1]!.api);
    const height = metricSamples(text, 'medledger_height')[0]?.value ?? 0;
    assert.ok(height >= 1, `medledger_height = ${height}`);
    for (const name of [
      'medledger_consensus_round',
      'medledger_consensus_rounds_per_height_count',
      'medledger_block_interval_seconds_count',
      'medledger_peers',
      'medledger_mempool_txs',
      'medledger_sync_catching_up',
    ]) {
      assert.equal(metricSamples(text, name).length, 1, `${name} is exported`);
    }
    assert.ok(metricSamples(text, 'medledger_consensus_rounds_per_height_count')[0]!.value >= 1);
    assert.ok(metricSamples(text, 'medledger_block_interval_seconds_count')[0]!.value >= 1);
    assert.equal(metricSamples(text, 'medledger_peers')[0]!.value, 3, 'connected to the 3 others');
    // Every step of a height is timed, once per height this validator went through.
    const steps = metricSamples(text, 'medledger_consensus_step_seconds_count');
    for (const step of ['propose', 'prevote', 'precommit', 'commit']) {
      const count = steps.find((s) => s.labels === `{step="${step}"}`)?.value ?? 0;
      assert.ok(count >= 1, `medledger_consensus_step_seconds_count{step="${step}"} = ${count}`);
    }
    // One series per validator, zero until that validator misses a turn.
    const missed = metricSamples(text, 'medledger_proposals_missed_total');
    for (const a of net.info.map((n) => n.validatorAddress)) {
      assert.ok(
        missed.some((s) => s.labels.includes(a)),
        `medledger_proposals_missed_total{validator="${a}"}`,
      );
    }
  }),
);
