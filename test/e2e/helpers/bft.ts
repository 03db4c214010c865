import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getJson, maxHeight, postJson, status, waitFor, type NodeProcess, type Testnet } from './harness.js';

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
