import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CLI,
  NodeProcess,
  assertNoFork,
  cliJson,
  maxHeight,
  randomBasePort,
  removeTestDir,
  status,
  tempDir,
  waitFor,
  waitForHeight,
} from './helpers/harness.js';

/**
 * The fault scenarios of testnet/netns/ on a real 4-node network, each node in its own network
 * namespace behind a veth pair and a bridge: cut a node off and heal, split 2|2 and heal.
 * Needs root and iproute2; skipped (with the reason) where they are missing.
 */
const SCRIPT = fileURLToPath(new URL('../../../testnet/netns/netns.sh', import.meta.url));
// Names and addresses of our own per run, so a developer's run.sh or a parallel run is untouched.
const PREFIX = `mle${process.pid % 10000}`;
const SUBNET = `10.77.${20 + (process.pid % 200)}`;
const env = { ...process.env, MEDLEDGER_NETNS_PREFIX: PREFIX, MEDLEDGER_NETNS_SUBNET: SUBNET };

function netns(...args: string[]): string {
  const r = spawnSync(SCRIPT, args, { env, encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`netns.sh ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout.trim();
}

function skipReason(): string | false {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root to include this test)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (`ip`) is not installed';
  const check = spawnSync(SCRIPT, ['check'], { env, encoding: 'utf8' });
  if (check.status !== 0) return `cannot create network namespaces here: ${check.stderr.trim()}`;
  return false;
}

const reason = skipReason();

test('netns: cut a node off and heal; split 2|2 and heal; no fork', { skip: reason }, async (t) => {
  const n = 4;
  const dir = tempDir('netns');
  const children: ChildProcess[] = [];
  try {
    netns('up', String(n));
    cliJson([
      'testnet',
      'init',
      '--validators',
      String(n),
      '--dir',
      dir,
      '--base-port',
      String(randomBasePort()),
      '--hosts',
      netns('hosts', String(n)),
    ]);
    const manifest = JSON.parse(readFileSync(join(dir, 'testnet.json'), 'utf8')) as {
      nodes: { name: string; home: string; api: string }[];
    };
    const nodes = manifest.nodes.map((m) => new NodeProcess(m.name, m.home, m.api));
    manifest.nodes.forEach((m, i) => {
      // `ip netns exec` execs node in place: this pid is the node's.
      const child = spawn(SCRIPT, ['exec', String(i), process.execPath, CLI, 'start', '--home', m.home], {
        env,
        stdio: 'ignore',
      });
      children.push(child);
    });
    await Promise.all(nodes.map((node) => waitFor(`${node.name} API`, () => status(node.api), 30_000)));
    const [n0, n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess, NodeProcess];
    await waitForHeight(nodes, 3, 30_000);

    // Cut node3 off: 3 of 4 validators still make a quorum.
    netns('cut', '3');
    const atCut = await maxHeight([n0, n1, n2]);
    await waitForHeight([n0, n1, n2], atCut + 3, 30_000);
    t.diagnostic(`cut node3 at height ${atCut}: the other three reached ${await maxHeight([n0, n1, n2])}`);
    netns('heal');
    const target = await maxHeight([n0, n1, n2]);
    await waitForHeight([n3], target, 40_000);
    t.diagnostic(`healed: node3 caught up to ${target}`);

    // Split 0 1 | 2 3: neither side has 3 of 4, so nothing commits until it heals.
    netns('split', '0 1', '2 3');
    const atSplit = await maxHeight(nodes);
    await new Promise((r) => setTimeout(r, 5000));
    const during = await maxHeight(nodes);
    // One block may have been decided by votes already in flight when the split came.
    assert.ok(during <= atSplit + 1, `committed during a 2|2 split: ${atSplit} -> ${during}`);
    t.diagnostic(`split at height ${atSplit}: ${during} after 5 s`);
    netns('heal');
    await waitForHeight(nodes, during + 3, 60_000);
    t.diagnostic(`healed: all four at ${await maxHeight(nodes)}`);

    // A stalled round is explained in the logs: who we were waiting for. During the split no
    // timeout may fire (under 2f+1 votes), so the explanation comes from the stall detector. The
    // split can come before or after the prevotes were exchanged, so either list names the
    // other side.
    const log = readFileSync(join(manifest.nodes[0]!.home, 'logs', 'node.log'), 'utf8');
    assert.match(log, /round stalled: waiting for (prevotes|precommits|the proposal)/);
    assert.match(log, /"missing(Prevotes|Precommits)":\[[^\]]*"node[23]"/);

    const top = await assertNoFork(nodes);
    t.diagnostic(`no fork up to height ${top}`);
  } finally {
    for (const c of children) c.kill('SIGKILL');
    await Promise.all(
      children.map((c) =>
        c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : null,
      ),
    );
    try {
      netns('down');
    } finally {
      removeTestDir(dir);
    }
  }
});
