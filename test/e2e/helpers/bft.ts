import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  getJson,
  maxHeight,
  postJson,
  status,
  waitFor,
  waitForHeight,
  type NodeProcess,
  type Testnet,
} from './harness.js';
import { TestSigner } from './txs.js';

/** Helpers shared by the BFT fault tests (bft-*.test.ts). */

export interface BlockJson {
  header: { height: number; hash: string; round: number; proposer: string; time: number };
  txs: { hash: string }[];
  lastCommit: { height: number; round: number; signatures: { validator: string }[] } | null;
}

export const block = (api: string, height: number) => getJson<BlockJson>(`${api}/blocks/${height}`);

/** The last `lines` lines of a node's log file (`<home>/logs/node.log`). */
export function logTail(node: NodeProcess, lines = 40): string {
  const file = join(node.home, 'logs', 'node.log');
  if (!existsSync(file)) return '(no log file)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/** Everything useful to diagnose a failure: status, process output and log tail of every node. */
export async function diagnostics(net: Testnet, lines = 40): Promise<string> {
  const parts = await Promise.all(
    net.nodes.map(async (n) => {
      const s = await status(n.api)
        .then((x) => JSON.stringify(x))
        .catch((err: unknown) => `status unavailable: ${(err as Error).message}`);
      return [
        `===== ${n.name} (running=${n.running}) ${s}`,
        `--- process output (tail)`,
        n.output.trimEnd().split('\n').slice(-10).join('\n'),
        `--- ${n.home}/logs/node.log (tail)`,
        logTail(n, lines),
      ].join('\n');
    }),
  );
  return parts.join('\n');
}

/** Runs a test body; on failure prints every node's diagnostics before rethrowing. */
export async function diagnosed(net: Testnet | undefined, body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (net) console.error(await diagnostics(net).catch((e: unknown) => `diagnostics failed: ${String(e)}`));
    throw err;
  }
}

/** Resumes every SIGSTOPped process so `stopAll` (SIGKILL) and the OS clean up without surprises. */
export function contAll(net: Testnet): void {
  for (const n of net.nodes) if (n.running) n.signal('SIGCONT');
}

/**
 * Liveness: the highest height over `nodes` grows by at least `by` within `timeoutMs`.
 * Returns the height reached and how long it took.
 */
export async function assertAdvances(
  nodes: NodeProcess[],
  by: number,
  timeoutMs: number,
): Promise<{ from: number; to: number; ms: number }> {
  const from = await maxHeight(nodes);
  const t0 = Date.now();
  const to = await waitFor(
    `height to advance by ${by} from ${from} on ${nodes.map((n) => n.name).join(',')}`,
    async () => {
      const h = await maxHeight(nodes);
      return h >= from + by ? h : undefined;
    },
    timeoutMs,
  );
  return { from, to, ms: Date.now() - t0 };
}

/**
 * Halt: polls the highest height over `nodes` for `durationMs`; it may move by at most `slack`
 * (a block whose precommits were already in flight when the fault began).
 */
export async function assertHalted(nodes: NodeProcess[], durationMs: number, slack = 1): Promise<number> {
  const start = await maxHeight(nodes);
  const deadline = Date.now() + durationMs;
  let last = start;
  while (Date.now() < deadline) {
    last = await maxHeight(nodes);
    assert.ok(last <= start + slack, `commits did not halt: height went from ${start} to ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return last;
}

export interface SubmitOutcome {
  hash: string;
  /** HTTP status, or 0 when the request failed (node down, timeout). */
  status: number;
  height?: number;
}

/** POST /txs?wait=commit; never throws (a dead node is an outcome, not an error). */
export async function submitAndWait(
  api: string,
  tx: { bytes: Uint8Array; hash: string },
  timeoutMs = 35_000,
): Promise<SubmitOutcome> {
  try {
    const r = await postJson(`${api}/txs?wait=commit`, { tx: Buffer.from(tx.bytes).toString('hex') }, timeoutMs);
    const height = r.body.height;
    return { hash: tx.hash, status: r.status, ...(typeof height === 'number' ? { height } : {}) };
  } catch {
    return { hash: tx.hash, status: 0 };
  }
}

export interface LoadOutcome extends SubmitOutcome {
  node: string;
  /** When the tx was sent (ms since the epoch). */
  sentAt: number;
}

export interface Load {
  /** Every answer so far, acknowledged or not. */
  readonly outcomes: readonly LoadOutcome[];
  /** The acknowledged txs so far (HTTP 200 to ?wait=commit: committed, with their height). */
  acked(): LoadOutcome[];
  /** Ends the loops once their txs in flight are answered; returns the acknowledged txs. */
  stop(): Promise<LoadOutcome[]>;
}

/**
 * A light load that runs across a fault: one signer per node (its organisation's key), each
 * sending one tx at a time (?wait=commit) to its own node, `pauseMs` apart. One signer per node,
 * so a tx lost with a killed or cut-off node never leaves a nonce gap in front of another
 * signer's txs; a signer whose tx is not acknowledged (refused, timed out, node gone) stops.
 * Nonces start at `firstNonce`, by default the clock in ms: above every nonce an earlier load
 * on the same network used, including txs whose fate is unknown.
 */
export function startLoad(net: Testnet, opts: { pauseMs?: number; firstNonce?: number } = {}): Load {
  const pauseMs = opts.pauseMs ?? 300;
  const firstNonce = opts.firstNonce ?? Date.now();
  let loading = true;
  const outcomes: LoadOutcome[] = [];
  const loops = net.nodes.map(async (node, i) => {
    const signer = new TestSigner(net.info[i]!.orgKey, net.chainId, firstNonce);
    while (loading) {
      const sentAt = Date.now();
      const r = await submitAndWait(node.api, signer.registerPatient());
      outcomes.push({ ...r, node: node.name, sentAt });
      if (r.status !== 200) return;
      if (loading) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  });
  const acked = () => outcomes.filter((o) => o.status === 200);
  return {
    outcomes,
    acked,
    async stop() {
      loading = false;
      await Promise.all(loops);
      return acked();
    },
  };
}

/**
 * Ends `load` and checks that no acknowledged tx is lost: at least `minAcked` were acknowledged,
 * some of them sent while the fault was on (`faultFrom`..`faultTo`, so the load ran across it),
 * and every one is committed exactly once on every node. Returns the acknowledged txs.
 */
export async function assertNoAckedTxLost(
  net: Testnet,
  load: Load,
  fault: { from: number; to: number },
  what: string,
  minAcked = 4,
): Promise<LoadOutcome[]> {
  const acked = await load.stop();
  const duringFault = acked.filter((o) => o.sentAt >= fault.from && o.sentAt <= fault.to);
  console.log(
    `${what}: ${acked.length} acknowledged txs of ${load.outcomes.length} submitted, ${duringFault.length} sent during the fault`,
  );
  assert.ok(acked.length >= minAcked, `acknowledged txs: ${acked.length}`);
  assert.ok(duringFault.length >= 1, 'no tx sent during the fault was acknowledged: the load did not cross it');
  await waitForHeight(net.nodes, Math.max(...acked.map((o) => o.height ?? 0)), 30_000);
  await assertCommittedExactlyOnce(net.nodes, acked);
  return acked;
}

/** The validator addresses whose precommits the commit certificate of `height` holds. */
export async function commitSigners(api: string, height: number): Promise<string[]> {
  const next = await block(api, height + 1);
  return (next.lastCommit?.signatures ?? []).map((s) => s.validator);
}

/**
 * Every acknowledged tx is committed exactly once: each node that has it reports the same
 * height, and no tx hash appears in two blocks (scanning every block up to the common height).
 */
export async function assertCommittedExactlyOnce(nodes: NodeProcess[], acked: SubmitOutcome[]): Promise<void> {
  for (const tx of acked) {
    const heights = await Promise.all(
      nodes.map((n) => getJson<{ height: number }>(`${n.api}/txs/${tx.hash}`).then((r) => r.height)),
    );
    assert.equal(new Set(heights).size, 1, `tx ${tx.hash} at different heights: ${heights.join(',')}`);
    if (tx.height !== undefined) assert.equal(heights[0], tx.height, `tx ${tx.hash}: acknowledged height differs`);
  }
  const top = Math.min(...(await Promise.all(nodes.map((n) => status(n.api).then((s) => s.height)))));
  const seen = new Map<string, number>();
  for (let h = 1; h <= top; h++) {
    const b = await block(nodes[0]!.api, h);
    for (const t of b.txs) {
      assert.ok(!seen.has(t.hash), `tx ${t.hash} committed twice: heights ${seen.get(t.hash)} and ${h}`);
      seen.set(t.hash, h);
    }
  }
  for (const tx of acked) assert.ok(seen.has(tx.hash), `acknowledged tx ${tx.hash} missing from the blocks`);
}

/** Sets the fault layer of `node` (POST /debug/faults). */
export async function blockPeers(node: NodeProcess, peerIds: string[]): Promise<void> {
  const r = await postJson(`${node.api}/debug/faults`, { blockPeers: peerIds }, 5000);
  assert.equal(r.status, 200, `POST /debug/faults on ${node.name}: ${JSON.stringify(r.body)}`);
}

/** The samples of one Prometheus metric in `/metrics` text: labels as written (`{a="b"}`) and value. */
export function metricSamples(text: string, name: string): { labels: string; value: number }[] {
  const out: { labels: string; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) out.push({ labels: m[2] ?? '', value: Number(m[3]) });
  }
  return out;
}

export async function metricsText(api: string): Promise<string> {
  const res = await fetch(`${api}/metrics`, { signal: AbortSignal.timeout(3000) });
  assert.equal(res.status, 200);
  return res.text();
}
