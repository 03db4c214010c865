// Sync mode: N validators of which one stays down while the others commit `txs` record anchors;
// then it starts with an empty database and catches up through block sync. Reported: the txs it
// replayed per second (verify certificates, re-execute, commit), timed from its own log lines.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORES, cleanup, getJson, load, log, printResult, round, scratchDir, sleep } from './lib.mjs';
import { CommitTracker, Lanes, initNetwork, presign, startNodes, submitAndCommit } from './network.mjs';

export async function runSync(o) {
  if (o.validators < 4) throw new Error('--mode sync needs at least 4 validators (one is down while the rest commit)');
  const dir = scratchDir('sync', o.keep);
  const net = initNetwork(dir, {
    validators: o.validators,
    basePort: o.basePort,
    extraOrgs: Math.max(0, o.accounts - o.validators),
    params: o.maxBlockTxs ? { maxBlockTxs: o.maxBlockTxs } : {},
  });
  const late = o.validators - 1;
  // The late node's accounts submit through the others while it is down.
  net.accounts.forEach((a, i) => (a.node = i % late));
  const plan = presign(net, { patients: o.patients, anchors: o.txs, txBytes: o.txBytes });

  log(`starting ${late} of ${o.validators} validators (quorum without ${net.manifest.nodes[late].name})`);
  const nodes = await startNodes(net.manifest, { skip: [late] });
  const apis = net.manifest.nodes.slice(0, late).map((n) => n.api);
  const tracker = new CommitTracker(apis);
  await tracker.start(0);
  const lanes = new Lanes(net.accounts, net.manifest);
  await submitAndCommit(lanes, tracker, plan.registrations, 'patient registrations');
  const loadSecs = await submitAndCommit(lanes, tracker, plan.anchors, 'record anchors');
  await lanes.close();
  await tracker.stop();
  const target = tracker.height;
  const syncedTxs = tracker.blocks.reduce((s, b) => s + b.txs, 0);
  log(
    `${plan.anchors.length} anchors committed in ${loadSecs.toFixed(1)} s (${Math.round(plan.anchors.length / loadSecs)} tx/s on ${late} validators); height ${target}, ${syncedTxs} txs in blocks`,
  );

  // The load phase leaves LevelDB compactions running on the others for a while: measure the
  // catch-up once they are back to producing empty blocks, not while they compete for the cores.
  const settled = await settle(nodes.slice(0, late));
  log(`the ${late} validators settled in ${settled.toFixed(1)} s`);

  const node = nodes[late];
  const loadAtStart = load();
  log(`starting ${node.name} with an empty database (load ${loadAtStart.join(' ')})`);
  node.nodeArgs = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  if (o.profile) {
    const profDir = o.profile === true ? join(dir, 'profiles') : o.profile;
    node.nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`);
    log(`CPU profile of ${node.name} goes to ${profDir}`);
  }
  const spawned = Date.now();
  node.start();
  let peakRss = 0;
  let height = 0;
  let lastLog = 0;
  for (;;) {
    if (!node.running) throw new Error(`${node.name} exited: ${node.output.slice(-2000)}`);
    peakRss = Math.max(peakRss, node.memory().rssMb || 0);
    const s = await getJson(`${node.api}/status`, 2000).catch(() => undefined);
    if (s) height = s.height;
    if (height >= target) break;
    if (Date.now() - lastLog > 3000) {
      lastLog = Date.now();
      log(`${node.name} at height ${height}/${target}`);
    }
    if (Date.now() - spawned > 900_000) throw new Error('sync did not finish within 15 minutes');
    await sleep(100);
  }
  const caughtUp = Date.now();
  const cpuSeconds = node.cpuSeconds();
  peakRss = Math.max(peakRss, node.memory().peakRssMb || 0);
  const loadAtEnd = load();
  await sleep(300); // let the log line of the finished sync reach the file
  await Promise.all(nodes.map((n) => n.stop('SIGTERM', 15_000)));

  // The sync itself, from the node's log: first "block sync" line to the last "block sync done".
  const lines = readFileSync(join(node.home, 'logs', 'node.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return {};
      }
    });
  const first = lines.find((l) => l.msg === 'block sync');
  const done = lines.filter((l) => l.msg === 'block sync done');
  const syncEnd = done.length ? done[done.length - 1].time : caughtUp;
  const syncS = first ? (syncEnd - first.time) / 1000 : (caughtUp - spawned) / 1000;
  const wallS = (caughtUp - spawned) / 1000;
  const result = {
    mode: 'sync',
    validators: o.validators,
    txs: syncedTxs,
    blocks: target,
    syncSeconds: round(syncS, 2),
    syncTps: Math.round(syncedTxs / syncS),
    wallSeconds: round(wallS, 2),
    wallTps: Math.round(syncedTxs / wallS),
    avgBlockTxs: Math.round(syncedTxs / target),
    cpuPct: round((cpuSeconds / wallS) * 100, 0),
    peakRssMb: round(peakRss, 0),
    cores: CORES,
    txBytes: plan.txBytes,
    load: { start: loadAtStart, end: loadAtEnd },
  };
  await cleanup();
  printResult(result);
}

/** Waits (up to 30 s) until the running nodes together use under a third of one core. */
async function settle(running) {
  const started = performance.now();
  let before = running.reduce((s, n) => s + n.cpuSeconds(), 0);
  while (performance.now() - started < 30_000) {
    await sleep(1000);
    const now = running.reduce((s, n) => s + n.cpuSeconds(), 0);
    if (now - before < 0.33) break;
    before = now;
  }
  return (performance.now() - started) / 1000;
}
