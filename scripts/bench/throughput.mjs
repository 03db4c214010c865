// Throughput mode: N validators as OS processes, an open-loop load of pre-signed record anchors
// through the public API, commit latency as a client sees it, per-node CPU and RSS.
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { CORES, cleanup, load, log, percentile, printResult, round, scratchDir, sleep } from './lib.mjs';
import {
  CommitTracker,
  Lanes,
  initNetwork,
  measureVerifyRate,
  opensslVerify,
  presign,
  startNodes,
  submitAndCommit,
} from './network.mjs';

export async function runThroughput(o) {
  const loadBefore = load();
  log(`measuring single-core ed25519 verify rate (load ${loadBefore.join(' ')})`);
  const verifyPerSecPerCore = measureVerifyRate(2);
  const opensslVerifyPerSecPerCore = measureVerifyRate(1, opensslVerify);
  const ceilingTps = Math.round((CORES * verifyPerSecPerCore) / o.validators);
  // Twice the 2,500 tx/s target saturates this machine; more only lengthens the presigning.
  const rate = o.rate ?? Math.min(5000, Math.max(3000, Math.ceil((ceilingTps * 1.25) / 100) * 100));
  log(
    `verify ${verifyPerSecPerCore}/s/core (OpenSSL ${opensslVerifyPerSecPerCore}), ${CORES} cores, ${o.validators} validators: ceiling ${ceilingTps} tx/s; offering ${rate} tx/s for ${o.duration} s`,
  );

  const dir = scratchDir('tps', o.keep);
  const net = initNetwork(dir, {
    validators: o.validators,
    basePort: o.basePort,
    extraOrgs: Math.max(0, o.accounts - o.validators),
    params: o.maxBlockTxs ? { maxBlockTxs: o.maxBlockTxs } : {},
  });
  const plan = presign(net, { patients: o.patients, anchors: Math.ceil(rate * o.duration), txBytes: o.txBytes });

  const nodeArgs = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  if (o.profile) {
    const profDir = join(o.profile === true ? join(dir, 'profiles') : o.profile);
    mkdirSync(profDir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profDir}`);
    log(`CPU profiles of the nodes go to ${profDir}`);
  }
  log(`starting ${o.validators} validators in ${dir}`);
  const nodes = await startNodes(net.manifest, { nodeArgs });
  const apis = net.manifest.nodes.map((n) => n.api);
  const tracker = new CommitTracker(apis);
  await tracker.start(0);
  const lanes = new Lanes(net.accounts, net.manifest);
  const regSecs = await submitAndCommit(lanes, tracker, plan.registrations, 'patient registrations');
  lanes.stats = { accepted: 0, rejected: 0, errors: 0, retries: 0, codes: {} };
  log(`${plan.registrations.length} patients registered in ${regSecs.toFixed(1)} s; height ${tracker.height}`);

  for (const tx of plan.anchors) tracker.track(tx.hash, tx);
  const anchors = plan.anchors;
  const warmupS = Math.min(5, o.duration / 5);
  const memPeak = nodes.map(() => 0);
  const sampleMem = () => nodes.forEach((n, i) => (memPeak[i] = Math.max(memPeak[i], n.memory().rssMb || 0)));

  const loadAtStart = load();
  log(`timed phase: ${rate} tx/s for ${o.duration} s (load ${loadAtStart.join(' ')})`);
  const t0 = performance.now() + 20;
  const endAt = t0 + o.duration * 1000;
  const cpu0 = nodes.map((n) => n.cpuSeconds());
  const benchCpu0 = process.cpuUsage();
  // A scrape restarts the nodes' event-loop delay histograms: the next one covers the timed phase.
  const metrics0 = await scrapeMetrics(apis);
  const blocksBefore = tracker.blocks.length;
  let released = 0;
  let lastLog = t0;
  let lastMem = 0;
  for (let now = performance.now(); now < endAt; now = performance.now()) {
    const due = Math.min(anchors.length, Math.floor(((now - t0) * rate) / 1000));
    while (released < due) {
      const tx = anchors[released];
      tx.scheduledAt = t0 + (released * 1000) / rate;
      lanes.push(tx);
      released++;
    }
    if (now - lastMem > 1000) {
      lastMem = now;
      sampleMem();
    }
    if (now - lastLog > 3000) {
      lastLog = now;
      log(
        `t=${((now - t0) / 1000).toFixed(0)}s offered ${released} accepted ${lanes.stats.accepted} committed ${tracker.committed} height ${tracker.height} backlog ${lanes.backlog} refused ${lanes.stats.rejected}`,
      );
    }
    await sleep(2);
  }
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu1 = nodes.map((n) => n.cpuSeconds());
  const benchCpu = process.cpuUsage(benchCpu0);
  const loadAtEnd = load();
  const metrics1 = await scrapeMetrics(apis);
  sampleMem();
  await lanes.close();
  const unsent = anchors.filter((t) => t.status === undefined).length;

  // Drain: every accepted tx must commit (exactly once); stop waiting when commits stall.
  const accepted = anchors.filter((t) => t.status === 202);
  let lastCommitted = -1;
  let stallSince = performance.now();
  for (;;) {
    const pending = accepted.filter((t) => t.commits === 0).length;
    if (pending === 0) break;
    if (tracker.committed !== lastCommitted) {
      lastCommitted = tracker.committed;
      stallSince = performance.now();
    } else if (performance.now() - stallSince > 30_000) {
      log(`draining: no commit for 30 s with ${pending} accepted txs uncommitted`);
      break;
    }
    log(`draining: ${pending} accepted txs not yet committed (height ${tracker.height})`);
    sampleMem();
    await sleep(1000);
  }
  await sleep(500); // one more block poll: a duplicate would show up here
  await tracker.stop();
  const drainedAt = performance.now();
  const cpu2 = nodes.map((n) => n.cpuSeconds());
  const metrics = await scrapeMetrics(apis);
  const peakRss = nodes.map((n) => n.memory().peakRssMb);
  log('stopping nodes');
  await Promise.all(nodes.map((n) => n.stop('SIGTERM', 15_000)));

  // Sustained rate: txs first seen committed in the steady window (after the warm-up).
  const winStart = t0 + warmupS * 1000;
  const committedInWindow = anchors.filter((t) => t.commits > 0 && t.committedAt >= winStart && t.committedAt <= endAt);
  const committedTps = committedInWindow.length / ((endAt - winStart) / 1000);
  const measured = anchors.filter((t) => t.commits > 0 && t.scheduledAt >= winStart && t.scheduledAt <= endAt);
  const lat = measured.map((t) => t.committedAt - t.scheduledAt).sort((a, b) => a - b);
  const latSend = measured.map((t) => t.committedAt - t.sentAt).sort((a, b) => a - b);
  const lost = accepted.filter((t) => t.commits === 0).length;
  const duplicates = anchors.filter((t) => t.commits > 1).length;
  const windowBlocks = tracker.blocks.slice(blocksBefore).filter((b) => b.seenAt >= winStart && b.seenAt <= endAt);
  const rounds = windowBlocks.map((b) => b.round + 1);
  const nodeStats = nodes.map((n, i) => ({
    name: n.name,
    cpuPct: round(((cpu1[i] - cpu0[i]) / elapsedS) * 100, 0),
    peakRssMb: round(Math.max(peakRss[i] || 0, memPeak[i]), 0),
  }));
  const result = {
    mode: 'throughput',
    validators: o.validators,
    durationS: o.duration,
    offeredTps: rate,
    committedTps: round(committedTps, 0),
    p50Ms: round(percentile(lat, 50), 0),
    p99Ms: round(percentile(lat, 99), 0),
    verifyPerSecPerCore,
    ceilingTps,
    ratio: round(committedTps / ceilingTps, 3),
    maxRssMb: Math.max(...nodeStats.map((n) => n.peakRssMb)),
    lost,
    duplicates,
    opensslVerifyPerSecPerCore,
    accepted: accepted.length,
    refused: lanes.stats.rejected,
    refusedCodes: lanes.stats.codes,
    sendErrors: lanes.stats.errors,
    retried503: lanes.stats.retries,
    unsent,
    acceptedTps: round(accepted.filter((t) => t.acceptedAt <= endAt).length / elapsedS, 0),
    p50FromSendMs: round(percentile(latSend, 50), 0),
    p99FromSendMs: round(percentile(latSend, 99), 0),
    latencySamples: lat.length,
    warmupS,
    blocks: windowBlocks.length,
    avgBlockTxs: round(windowBlocks.reduce((s, b) => s + b.txs, 0) / Math.max(1, windowBlocks.length), 0),
    roundsPerHeight: {
      mean: round(rounds.reduce((s, r) => s + r, 0) / Math.max(1, rounds.length), 2),
      max: rounds.length ? Math.max(...rounds) : null,
    },
    cpuMsPerTx: round(
      (cpu2.reduce((a, c, i) => a + c - cpu0[i], 0) * 1000) / Math.max(1, anchors.filter((t) => t.commits > 0).length),
      3,
    ),
    drainS: round((drainedAt - endAt) / 1000, 1),
    blockExecMs: metrics.blockExecMs,
    nodeMemoryAtEnd: metrics.memory,
    stepMs: stepMeansMs(metrics0, metrics1),
    proposalTxsFetched: metrics1.proposalTxsFetched - metrics0.proposalTxsFetched,
    relay: relayDelta(metrics0.relay, metrics1.relay),
    gcPauseMsPerTx: gcPauseMsPerTx(
      metrics0,
      metrics1,
      anchors.filter((t) => t.commits > 0 && t.committedAt >= t0 && t.committedAt <= endAt).length,
    ),
    eventLoopDelayMs: metrics1.eventLoopDelayMs,
    txsPerApiRequest: round(lanes.stats.accepted / Math.max(1, metrics1.batchRequests - metrics0.batchRequests), 1),
    nodes: nodeStats,
    benchCpuPct: round(((benchCpu.user + benchCpu.system) / 1e6 / elapsedS) * 100, 0),
    txBytes: plan.txBytes,
    maxBlockTxs: net.genesis.params.maxBlockTxs,
    accounts: net.accounts.length,
    patients: o.patients,
    cores: CORES,
    load: { before: loadBefore, start: loadAtStart, end: loadAtEnd },
  };
  await cleanup();
  printResult(result);
}

const STEPS = ['propose', 'prevote', 'precommit', 'commit'];

/** Mean time per consensus step between two scrapes, over all nodes' heights. */
function stepMeansMs(before, after) {
  return Object.fromEntries(
    STEPS.map((step) => {
      const count = after.steps[step].count - before.steps[step].count;
      return [step, count > 0 ? round(((after.steps[step].sum - before.steps[step].sum) / count) * 1000, 0) : null];
    }),
  );
}

const GC_KINDS = ['minor', 'major', 'incremental'];

/** The tx relay's counters over the timed phase, summed over the nodes. */
function relayDelta(before, after) {
  return Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]));
}

/** Main-thread GC pauses of all nodes over the timed phase, per tx committed in it, by kind. */
function gcPauseMsPerTx(before, after, txs) {
  return Object.fromEntries(
    GC_KINDS.map((kind) => [
      kind,
      txs > 0 ? round(((after.gcSeconds[kind] - before.gcSeconds[kind]) * 1000) / txs, 3) : null,
    ]),
  );
}

/**
 * A few node-side numbers from `GET /metrics` (Prometheus text): block execution time averaged
 * over the nodes, memory and event-loop delay per node (delay since the previous scrape), and
 * counters summed over the nodes: `POST /txs/batch` requests answered, txs validators fetched
 * from a proposer, the tx relay's txs and resyncs, consensus step times, GC pause time by kind.
 */
async function scrapeMetrics(apis) {
  let execSum = 0;
  let execCount = 0;
  let batchRequests = 0;
  let proposalTxsFetched = 0;
  const relay = { sent: 0, added: 0, known: 0, refused: 0, deferrals: 0, resyncsFailed: 0, resyncsOverflow: 0 };
  const memory = [];
  const eventLoopDelayMs = [];
  const steps = Object.fromEntries(STEPS.map((step) => [step, { sum: 0, count: 0 }]));
  const gcSeconds = Object.fromEntries(GC_KINDS.map((kind) => [kind, 0]));
  for (const api of apis) {
    try {
      const text = await (await fetch(`${api}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      const num = (name) => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? 0);
      execSum += num('medledger_block_execution_seconds_sum');
      execCount += num('medledger_block_execution_seconds_count');
      const mb = (name) => Math.round(num(name) / 1048576);
      memory.push({
        heapUsedMb: mb('medledger_process_nodejs_heap_size_used_bytes'),
        heapTotalMb: mb('medledger_process_nodejs_heap_size_total_bytes'),
        externalMb: mb('medledger_process_nodejs_external_memory_bytes'),
      });
      const ms = (name) => round(num(name) * 1000, 1);
      eventLoopDelayMs.push({
        p50: ms('medledger_process_nodejs_eventloop_lag_p50_seconds'),
        p99: ms('medledger_process_nodejs_eventloop_lag_p99_seconds'),
        max: ms('medledger_process_nodejs_eventloop_lag_max_seconds'),
      });
      const batchCounts = text.matchAll(
        /^medledger_api_request_duration_seconds_count\{[^}]*route="\/txs\/batch"[^}]*\} ([0-9.e+-]+)$/gm,
      );
      for (const [, count] of batchCounts) batchRequests += Number(count);
      proposalTxsFetched += num('medledger_consensus_proposal_txs_fetched_total');
      relay.sent += num('medledger_relay_txs_sent_total');
      for (const result of ['added', 'known', 'refused'])
        relay[result] += num(`medledger_relay_txs_received_total{result="${result}"}`);
      relay.deferrals += num('medledger_relay_deferrals_total');
      relay.resyncsFailed += num('medledger_relay_resyncs_total{reason="failed"}');
      relay.resyncsOverflow += num('medledger_relay_resyncs_total{reason="overflow"}');
      for (const kind of GC_KINDS)
        gcSeconds[kind] += num(`medledger_process_nodejs_gc_duration_seconds_sum{kind="${kind}"}`);
      for (const step of STEPS) {
        steps[step].sum += num(`medledger_consensus_step_seconds_sum{step="${step}"}`);
        steps[step].count += num(`medledger_consensus_step_seconds_count{step="${step}"}`);
      }
    } catch {
      /* a node that does not answer leaves its numbers out */
    }
  }
  return {
    blockExecMs: execCount ? round((execSum / execCount) * 1000, 1) : null,
    memory,
    eventLoopDelayMs,
    batchRequests,
    proposalTxsFetched,
    relay,
    steps,
    gcSeconds,
  };
}
