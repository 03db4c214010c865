import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import {
  NodeProcess,
  assertNoFork,
  cliJson,
  getJson,
  maxHeight,
  startTestnet,
  status,
  waitFor,
  waitForHeight,
} from './helpers/harness.js';

interface ValidatorRow {
  address: string;
  name: string;
  org: string;
  lastProposedHeight: number;
  lastSignedHeight: number;
  missedBlocks: number;
}

/**
 * Watches the network commit: polls the highest height every 250 ms and keeps the longest time
 * without a new block. "The network never stops committing" is that gap staying small.
 */
function liveness(nodes: NodeProcess[]) {
  let last = 0;
  let lastAt = Date.now();
  let worst = 0;
  let worstAt = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const h = await maxHeight(nodes).catch(() => last);
      const now = Date.now();
      if (h > last) {
        last = h;
        lastAt = now;
      }
      // Measured from the first block on: the first one waits for the nodes to find each other.
      if (last > 0 && now - lastAt > worst) {
        worst = now - lastAt;
        worstAt = last;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    get worstGapMs() {
      return worst;
    },
    /** The height after which the longest wait began. */
    get worstGapAfter() {
      return worstAt;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

const validatorsOf = (api: string) =>
  getJson<{ height: number; validators: ValidatorRow[]; next: { height: number; validators: string[] } }>(
    `${api}/validators`,
  );

test('a 5th hospital joins a running 4-validator network, is voted in as a validator, proposes, and is voted out; commits never stop', async (t) => {
  const net = await startTestnet(4);
  const [n0, n1, n2, n3] = net.nodes as [NodeProcess, NodeProcess, NodeProcess, NodeProcess];
  const home = (i: number) => net.info[i]!.home;
  const basePort = Number(new URL(net.info[0]!.api).port);
  const api5 = `http://127.0.0.1:${basePort + 50}`;
  const home5 = join(net.dir, 'hospital-5');
  // The joining hospital uses the encrypted keystore: the default outside testnets.
  const keyEnv = { MEDLEDGER_KEY_PASSPHRASE: 'e2e passphrase of hospital 5' };
  const node5 = new NodeProcess('node5', home5, api5);
  const watch = liveness(net.nodes);
  try {
    const init = cliJson<{ orgFile: string; validatorAddress: string; chainId: string }>(
      [
        'init',
        '--home',
        home5,
        '--genesis',
        join(home(0), 'config', 'genesis.json'),
        '--peers',
        net.info.map((n) => n.p2p).join(','),
        '--org',
        'hospital-5',
        '--org-name',
        'Hospital 5',
        '--name',
        'node5',
        '--api-port',
        String(basePort + 50),
        '--p2p-port',
        String(basePort + 150),
      ],
      keyEnv,
    );
    assert.equal(init.chainId, net.chainId);
    // Without a passphrase, init still encrypts: with one it generates into the home.
    const generated = cliJson(['init', '--home', join(net.dir, 'generated')]);
    const keyFile = readFileSync(join(String(generated.home), 'keys', 'org.key'), 'utf8');
    assert.match(keyFile, /"crypto"/);
    assert.doesNotMatch(keyFile, /secretKey/);

    node5.start(keyEnv);
    await node5.waitReady();
    // Not a member yet: the others' gaters refuse it, so it stays at height 0.
    await new Promise((r) => setTimeout(r, 1500));
    const before = await status(api5);
    assert.equal(before.height, 0);
    assert.equal(before.validator, false);

    // hospital-0 proposes (its own yes), hospital-1 and hospital-2 vote: 3 of 4 > 2/3.
    const proposed = cliJson<{ proposal: string; status: string; yes: number; height: number }>([
      'member',
      'propose',
      '--org',
      init.orgFile,
      '--validator',
      '--home',
      home(0),
    ]);
    assert.deepEqual([proposed.status, proposed.yes], ['open', 1]);
    // Each vote goes to the voter's own node, which refuses a vote on a proposal it has not
    // committed: node0 answered the commit, node1 and node2 may still be a block behind.
    await waitForHeight([n1, n2], proposed.height, 10_000);
    cliJson(['member', 'vote', '--proposal', proposed.proposal, '--yes', '--home', home(1)]);
    const passed = cliJson<{ status: string; height: number }>([
      'member',
      'vote',
      '--proposal',
      proposed.proposal,
      '--yes',
      '--home',
      home(2),
    ]);
    assert.equal(passed.status, 'passed');
    t.diagnostic(`hospital-5 voted in at height ${passed.height}`);
    // node2 answered the commit of the deciding vote; the others may commit it a moment later.
    await waitForHeight([n0, n1, n3], passed.height, 10_000);
    const members = cliJson<{ members: { id: string }[] }>(['member', 'list', '--api', n3.api]);
    assert.ok(members.members.some((m) => m.id === 'hospital-5'));

    // Admitted: it connects, syncs from zero, and joins the set at h + 2.
    await waitFor('node5 synced past the vote', async () => (await status(api5)).height >= passed.height + 2, 30_000);
    const joined = await validatorsOf(n0.api);
    assert.ok(
      joined.validators.some((v) => v.address === init.validatorAddress) ||
        joined.next.validators.includes(init.validatorAddress),
    );
    await waitFor('node5 to be a validator', async () => (await status(api5)).validator, 20_000);

    // It proposes: a committed block carries its address as proposer (5 validators rotate).
    const proposedBlock = await waitFor(
      'a block proposed by node5',
      async () => {
        const rows = (await validatorsOf(n1.api)).validators;
        const me = rows.find((v) => v.address === init.validatorAddress);
        return me && me.lastProposedHeight > 0 && me.lastSignedHeight > 0 ? me.lastProposedHeight : undefined;
      },
      30_000,
    );
    // Another node holds the same block (it may commit it a moment later).
    const block = await waitFor(
      `block ${proposedBlock} on node2`,
      () => getJson<{ header: { proposer: string } }>(`${n2.api}/blocks/${proposedBlock}`),
      10_000,
    );
    assert.equal(block.header.proposer, init.validatorAddress);

    // The operator view: status with per-validator numbers, and the same numbers as metrics.
    // node0 too may commit node5's block a moment after node1.
    await waitForHeight([n0], proposedBlock, 10_000);
    const st = cliJson<{
      height: number;
      round: number;
      peers: number;
      catchingUp: boolean;
      validators: ValidatorRow[];
    }>(['status', '--api', n0.api]);
    assert.equal(st.validators.length, 5);
    t.diagnostic(
      `status of node0 at ${st.height}: ` +
        st.validators
          .map(
            (v) => `${v.name} proposed ${v.lastProposedHeight} signed ${v.lastSignedHeight} missed ${v.missedBlocks}`,
          )
          .join('; '),
    );
    assert.ok(st.peers >= 3);
    const node5Series = [
      'medledger_validator_last_signed_height{validator="' + init.validatorAddress,
      'medledger_validator_last_proposed_height{validator="' + init.validatorAddress,
    ];
    // node0 sets these as it sees node5's votes and commits its block, maybe after node1 did.
    const metrics = await waitFor(
      "node5's series in node0's metrics",
      async () => {
        const text = await (await fetch(`${n0.api}/metrics`)).text();
        return node5Series.every((s) => text.includes(s)) ? text : undefined;
      },
      10_000,
    );
    for (const name of [
      'medledger_height',
      'medledger_consensus_round',
      'medledger_peers',
      'medledger_mempool_txs',
      'medledger_validators 5',
      ...node5Series,
    ]) {
      assert.ok(metrics.includes(name), `metrics lack ${name}`);
    }
    assert.match(metrics, /^medledger_validator_missed_blocks_total\{validator="[0-9a-f]{40}",name="node\d"\} \d+$/m);

    // Voted out: hospital-1 proposes removing the member; 4 of 5 needed.
    const removal = cliJson<{ proposal: string; height: number }>([
      'member',
      'propose',
      '--remove',
      'hospital-5',
      '--home',
      home(1),
    ]);
    await waitForHeight([n2, n3, n0], removal.height, 10_000);
    cliJson(['member', 'vote', '--proposal', removal.proposal, '--yes', '--home', home(2)]);
    cliJson(['member', 'vote', '--proposal', removal.proposal, '--yes', '--home', home(3)]);
    const out = cliJson<{ status: string; height: number }>([
      'member',
      'vote',
      '--proposal',
      removal.proposal,
      '--yes',
      '--home',
      home(0),
    ]);
    assert.equal(out.status, 'passed');
    t.diagnostic(`node5 proposed block ${proposedBlock}; voted out at height ${out.height}`);
    await waitFor(
      'the set without node5',
      async () => {
        const v = await validatorsOf(n0.api);
        return v.validators.length === 4 && !v.validators.some((x) => x.address === init.validatorAddress);
      },
      20_000,
    );
    // The gater follows membership: once out of the set, node5 is disconnected and refused.
    await waitFor('node5 cut off', async () => (await status(api5)).peers === 0, 20_000);
    const cutAt = await maxHeight(net.nodes);
    await waitFor('commits after node5 left', async () => (await maxHeight([n0, n1, n2, n3])) >= cutAt + 3, 20_000);
    const removedAt = (await status(api5)).height;
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok((await status(api5)).height <= removedAt + 1, 'a removed member no longer receives blocks');

    await assertNoFork([...net.nodes, node5]);
    await watch.stop();
    // Never stopped: the longest wait for a block stays within a few empty-block intervals.
    t.diagnostic(`longest gap without a commit: ${watch.worstGapMs} ms, after height ${watch.worstGapAfter}`);
    assert.ok(
      watch.worstGapMs < 8000,
      `longest gap without a commit: ${watch.worstGapMs} ms after ${watch.worstGapAfter}`,
    );
  } finally {
    await watch.stop();
    await node5.stop('SIGKILL');
    await net.stopAll();
  }
});
