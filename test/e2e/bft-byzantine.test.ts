import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  assertNoFork,
  cliJson,
  getJson,
  maxHeight,
  randomBasePort,
  removeTestDir,
  runCli,
  startTestnet,
  tempDir,
  waitFor,
  waitForHeight,
  type Testnet,
} from './helpers/harness.js';
import {
  assertAdvances,
  assertNoAckedTxLost,
  diagnosed,
  logTail,
  metricSamples,
  metricsText,
  startLoad,
} from './helpers/bft.js';

// One byzantine validator of 4 (the MEDLEDGER_BYZANTINE=equivocate test fault, allowed only on
// a network with `faults: true`): every vote it signs is followed by a conflicting vote for the
// same height, round and type. f = 1 tolerates it: no fork, commits continue, and the honest
// nodes turn the two signed votes into evidence that is committed and listed by GET /evidence.
// A light load runs all along: every tx the API acknowledged is committed exactly once.

const BYZANTINE = 3;
let net: Testnet;

before(async () => {
  net = await startTestnet(4, {
    faults: true,
    env: (i) => (i === BYZANTINE ? { MEDLEDGER_BYZANTINE: 'equivocate' } : {}),
  });
});

after(async () => {
  await net?.stopAll();
});

interface EvidenceJson {
  evidence: { validator: string; height: number; round: number; type: number }[];
}

test(
  'an equivocating validator: no fork, commits continue, evidence committed on every node, acked txs commit once',
  { timeout: 90_000 },
  () =>
    diagnosed(net, async () => {
      const byzantine = net.nodes[BYZANTINE]!;
      const address = net.info[BYZANTINE]!.validatorAddress;
      const honest = net.nodes.filter((n) => n !== byzantine);
      await waitFor('the test fault to be on', () => logTail(byzantine, 200).includes('TEST FAULT'), 10_000);
      const faultFrom = Date.now();
      const load = startLoad(net);

      const t0 = Date.now();
      await waitFor(
        `GET /evidence on every node to list ${address}`,
        async () => {
          const lists = await Promise.all(net.nodes.map((n) => getJson<EvidenceJson>(`${n.api}/evidence`)));
          return lists.every((l) => l.evidence.some((e) => e.validator === address));
        },
        30_000,
      );
      console.log(`byzantine: evidence committed and listed on every node ${Date.now() - t0} ms after start`);
      const listed = await getJson<EvidenceJson>(`${honest[0]!.api}/evidence`);
      assert.ok(
        listed.evidence.every((e) => e.validator === address),
        `only the byzantine validator is accused: ${JSON.stringify(listed.evidence)}`,
      );
      for (const n of honest) {
        const detected = metricSamples(await metricsText(n.api), 'medledger_evidence_detected_total')[0]?.value ?? 0;
        assert.ok(
          detected >= 1,
          `${n.name} detected the equivocation (medledger_evidence_detected_total = ${detected})`,
        );
      }

      await assertAdvances(net.nodes, 3, 30_000);
      await assertNoAckedTxLost(net, load, { from: faultFrom, to: Date.now() }, 'byzantine');
      await waitForHeight(net.nodes, await maxHeight(honest), 20_000);
      await assertNoFork(net.nodes);
    }),
);

test('the byzantine test fault is refused on a node without `faults`', { timeout: 30_000 }, () => {
  const dir = tempDir('byz');
  try {
    const home = join(dir, 'home');
    const port = randomBasePort();
    const keys = { MEDLEDGER_KEY_PASSPHRASE: 'byzantine-test-passphrase' };
    cliJson(['init', '--home', home, '--api-port', String(port), '--p2p-port', String(port + 1)], keys);
    const r = runCli(['start', '--home', home], { ...keys, MEDLEDGER_BYZANTINE: 'equivocate' });
    assert.equal(r.status, 1, `the node must not start: ${r.stderr}`);
    assert.match(r.stderr, /MEDLEDGER_BYZANTINE/);
  } finally {
    removeTestDir(dir);
  }
});
