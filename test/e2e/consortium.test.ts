import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * Per peer id, how many times a connection of `home`'s node to it opened and then closed, as its
 * debug log shows. A node outside the consortium dials the members its genesis lists; the
 * connection opens on its side and the member's gater closes it at once: one refusal.
 */
function refusedDials(home: string, peers: string[]): Map<string, number> {
  const file = join(home, 'logs', 'node.log');
  const counts = new Map(peers.map((p) => [p, 0]));
  const open = new Set<string>();
  if (!existsSync(file)) return counts;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes('"peer ')) continue;
    let entry: { module?: string; peer?: string; msg?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      continue; // a line still being written
    }
    if (entry.module !== 'network' || entry.peer === undefined || !counts.has(entry.peer)) continue;
    if (entry.msg === 'peer connected') open.add(entry.peer);
    if (entry.msg === 'peer disconnected' && open.delete(entry.peer)) {
      counts.set(entry.peer, counts.get(entry.peer)! + 1);
    }
  }
  return counts;
}

/**
 * Waits until every member has refused node5 at least once more than in `since`, and one of
 * them twice more (a redial, refused again), while polling node5's status: its height must stay
 * at or below `maxHeightAllowed` the whole time (and, with `outsideSet`, it must not be a
 * validator). Fails at once if it does not.
 */
async function assertRefusedWhile(
  node5: { api: string; home: string },
  members: string[],
  since: Map<string, number>,
  limits: { maxHeightAllowed: number; outsideSet: boolean },
  what: string,
): Promise<Map<string, number>> {
  const more = (r: Map<string, number>, p: string) => r.get(p)! - since.get(p)!;
  const outcome = await waitFor(
    `every member to refuse node5 (${what}), and a redial refused again`,
    async () => {
      const s = await status(node5.api);
      if (s.height > limits.maxHeightAllowed) return `node5 reached height ${s.height}`;
      if (limits.outsideSet && s.validator) return 'node5 is a validator';
      const r = refusedDials(node5.home, members);
      const refusedByAll = members.every((p) => more(r, p) >= 1);
      const refusedAgain = members.some((p) => more(r, p) >= 2);
      return refusedByAll && refusedAgain ? r : undefined;
    },
    20_000,
  );
  if (typeof outcome === 'string') {
    assert.fail(`${what}: ${outcome} (at most ${limits.maxHeightAllowed} allowed) while the members refused it`);
  }
  return outcome;
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

    // At debug level its log shows each connection to a member opening and closing.
    node5.start({ ...keyEnv, MEDLEDGER_LOG_LEVEL: 'debug' });
    await node5.waitReady();
    // Not a member yet: it dials the members, their gaters refuse it, so it stays at height 0.
    const memberPeers = net.info.map((n) => n.peerId);
    const noRefusals = new Map(memberPeers.map((p) => [p, 0]));
    const refused = await assertRefusedWhile(
      node5,
      memberPeers,
      noRefusals,
      { maxHeightAllowed: 0, outsideSet: true },
      'before it is a member',
    );
    t.diagnostic(`refused dials before admission: ${[...refused.values()].join(',')}`);
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
    // A removed member no longer receives blocks: it redials and every member refuses it again.
    const removedAt = (await status(api5)).height;
    await assertRefusedWhile(
      node5,
      memberPeers,
      refusedDials(home5, memberPeers),
      // Its last block may still arrive; it may not yet know it left the set.
      { maxHeightAllowed: removedAt + 1, outsideSet: false },
      'after it was voted out',
    );

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
