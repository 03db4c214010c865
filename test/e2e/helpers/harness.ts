import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestnetNode } from '@medledger/node';

/** The compiled `medledger` CLI entry point. */
export const CLI = fileURLToPath(new URL('../../../../packages/cli/dist/src/bin.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a real process and waits for it. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a CLI command with --json and returns the one JSON object it printed; throws on failure. */
export function cliJson<T = Record<string, unknown>>(args: string[], env: NodeJS.ProcessEnv = {}): T {
  const r = runCli([...args, '--json'], env);
  if (r.status !== 0) throw new Error(`medledger ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as T;
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `medledger-${prefix}-`));
}

/** Removes a test's temp dir, unless MEDLEDGER_KEEP_TEST_DIRS is set (to look at it after a run). */
export function removeTestDir(dir: string | undefined): void {
  if (dir && !process.env.MEDLEDGER_KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
}

/**
 * The files under `dir` with their bytes. The node may still be running: a file it deletes or
 * renames meanwhile (a LevelDB compaction, the atomic rewrite of its signing state) is left out.
 */
export function filesWithBytes(dir: string): { path: string; bytes: Buffer }[] {
  const files: { path: string; bytes: Buffer }[] = [];
  for (const name of readdirSync(dir, { recursive: true })) {
    const path = join(dir, String(name));
    try {
      if (statSync(path).isFile()) files.push({ path, bytes: readFileSync(path) });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return files;
}

/**
 * A random base port per test file, far from the defaults. A testnet uses P..P+N-1 and
 * P+100..P+100+N-1, so slots are 200 apart (adjacent slots would share ports), and all stay
 * below 32768 where Linux picks ephemeral ports for outgoing connections (a listen there can
 * fail with EADDRINUSE at random). Files started concurrently may still collide:
 * startTestnet retries on another port when a node does not come up.
 */
export function randomBasePort(): number {
  return 20_000 + Math.floor(Math.random() * 60) * 200;
}

/** Polls `check` until it returns a value (not undefined/false) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function getJson<T = Record<string, unknown>>(url: string, timeoutMs = 3000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

export async function postJson(
  url: string,
  body: unknown,
  timeoutMs = 35_000,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

export interface Status {
  chainId: string;
  nodeId: string;
  validatorAddress: string;
  height: number;
  latestBlockHash: string | null;
  validator: boolean;
  peers: number;
  catchingUp: boolean;
  round: number;
}

export const status = (api: string) => getJson<Status>(`${api}/status`, 1500);

/** A node running as its own OS process through `medledger start`. */
export class NodeProcess {
  #child: ChildProcess | undefined;
  #output = '';
  #exitedEarly: string | undefined;
  constructor(
    readonly name: string,
    readonly home: string,
    readonly api: string,
  ) {}

  /** `args` go after `start --home <home>` (e.g. `--api-port`). */
  start(env: NodeJS.ProcessEnv = {}, args: string[] = []): void {
    this.#output = '';
    this.#exitedEarly = undefined;
    const child = spawn(process.execPath, [CLI, 'start', '--home', this.home, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (this.#output = (this.#output + d.toString()).slice(-20_000)));
    child.stderr!.on('data', (d: Buffer) => (this.#output = (this.#output + d.toString()).slice(-20_000)));
    child.once('exit', (code, signal) => (this.#exitedEarly = `exited (${signal ?? code})`));
    this.#child = child;
  }

  get output(): string {
    return this.#output;
  }

  get running(): boolean {
    return !!this.#child && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    this.#child?.kill(sig);
  }

  /** Sends `sig` and waits for the process to exit. */
  async stop(sig: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<number | null> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  /** Waits for the API to answer; fails at once (with the output) if the process exits first. */
  async waitReady(timeoutMs = 30_000): Promise<Status> {
    let exited: string | undefined;
    try {
      return await waitFor(
        `${this.name} API`,
        async () => {
          exited = this.#exitedEarly;
          return exited ? true : status(this.api);
        },
        timeoutMs,
      ).then((s) => {
        if (s === true) throw new Error(`${this.name} ${exited} before its API answered`);
        return s;
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${this.name} output:\n${this.#output.slice(-3000)}`, {
        cause: err,
      });
    }
  }
}

/** One node of `testnet.json`, as `medledger testnet init` writes it. */
export type TestnetNodeInfo = TestnetNode;

export interface Testnet {
  dir: string;
  chainId: string;
  nodes: NodeProcess[];
  info: TestnetNodeInfo[];
  stopAll(): Promise<void>;
}

type TestnetOptions = { faults?: boolean; extraArgs?: string[]; env?: (index: number) => NodeJS.ProcessEnv };

/**
 * `medledger testnet init` then one `medledger start` process per node. If a node does not
 * come up (typically a port another test took), every node is killed and the network is made
 * again on other ports, up to 3 times; no process is left behind when it fails.
 */
export async function startTestnet(validators: number, opts: TestnetOptions = {}): Promise<Testnet> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startTestnetOnce(validators, opts);
    } catch (err) {
      if (attempt >= 3) throw err;
      console.error(`startTestnet attempt ${attempt} failed, retrying on other ports: ${(err as Error).message}`);
    }
  }
}

/** `medledger testnet init` in a new temp dir on random ports; its manifest (`testnet.json`). */
export function initTestnet(
  validators: number,
  extraArgs: string[] = [],
  prefix = 'testnet',
): { dir: string; chainId: string; nodes: TestnetNodeInfo[] } {
  const dir = tempDir(prefix);
  try {
    const args = ['testnet', 'init', '--validators', String(validators), '--dir', dir];
    cliJson([...args, '--base-port', String(randomBasePort()), ...extraArgs]);
    const manifest = JSON.parse(readFileSync(join(dir, 'testnet.json'), 'utf8')) as {
      chainId: string;
      nodes: TestnetNodeInfo[];
    };
    return { dir, ...manifest };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startTestnetOnce(validators: number, opts: TestnetOptions): Promise<Testnet> {
  const { dir, ...manifest } = initTestnet(validators, [
    ...(opts.faults ? ['--faults'] : []),
    ...(opts.extraArgs ?? []),
  ]);
  const nodes = manifest.nodes.map((n) => new NodeProcess(n.name, n.home, n.api));
  nodes.forEach((n, i) => n.start(opts.env?.(i) ?? {}));
  try {
    await Promise.all(nodes.map((n) => n.waitReady()));
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    chainId: manifest.chainId,
    nodes,
    info: manifest.nodes,
    async stopAll() {
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
      removeTestDir(dir);
    },
  };
}

/** Waits until every given node has committed at least `height`. */
export async function waitForHeight(nodes: NodeProcess[], height: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `height ${height} on ${nodes.map((n) => n.name).join(',')}`,
    async () => (await Promise.all(nodes.map((n) => status(n.api)))).every((s) => s.height >= height),
    timeoutMs,
  );
}

export async function maxHeight(nodes: NodeProcess[]): Promise<number> {
  const heights = await Promise.all(
    nodes.map((n) =>
      status(n.api)
        .then((s) => s.height)
        .catch(() => 0),
    ),
  );
  return Math.max(...heights);
}

/**
 * Safety: no two nodes hold different blocks at one height. Compares every height up to each
 * pair's common height, and returns the highest height that was compared.
 */
export async function assertNoFork(nodes: NodeProcess[]): Promise<number> {
  const heights = await Promise.all(nodes.map((n) => status(n.api).then((s) => s.height)));
  const top = Math.max(...heights);
  for (let h = 1; h <= top; h++) {
    const hashes = new Map<string, string>();
    await Promise.all(
      nodes.map(async (n, i) => {
        if (heights[i]! < h) return;
        const b = await getJson<{ header: { hash: string } }>(`${n.api}/blocks/${h}`);
        hashes.set(n.name, b.header.hash);
      }),
    );
    const distinct = new Set(hashes.values());
    if (distinct.size > 1) throw new Error(`FORK at height ${h}: ${JSON.stringify(Object.fromEntries(hashes))}`);
  }
  return top;
}
