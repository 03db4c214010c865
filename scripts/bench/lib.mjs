// Shared pieces of the benchmark modes: process control with guaranteed cleanup, /proc
// sampling, a minimal keep-alive HTTP client for the submit path, percentiles, logging.
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, mkdtempSync, mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { NODE_PROCESS_ENV } from '@medledger/node';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The `medledger` CLI the nodes run; BENCH_CLI points at another build (e.g. a baseline checkout). */
export const CLI = process.env.BENCH_CLI ?? join(ROOT, 'packages/cli/dist/src/bin.js');
export const CORES = cpus().length;
const CLK_TCK = 100; // Linux USER_HZ; /proc/<pid>/stat counts CPU time in these ticks.

export const log = (...parts) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${parts.join(' ')}\n`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const load = () => loadavg().map((x) => Number(x.toFixed(2)));

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export const round = (x, digits = 1) => (x === null || x === undefined ? null : Number(x.toFixed(digits)));

/** A scratch directory under .bench/ (git- and lint-ignored), removed at exit unless kept. */
export function scratchDir(prefix, keep) {
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, '.bench', `${prefix}-`));
  if (!keep) onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---- cleanup: every child process we start is stopped on normal exit, error, SIGINT/SIGTERM.
const cleanups = [];
const children = new Set();
let cleaning = false;

export function onCleanup(fn) {
  cleanups.push(fn);
}

export async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  await Promise.all([...children].map((c) => c.stop('SIGTERM', 10_000).catch(() => undefined)));
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch {
      /* best effort */
    }
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    log(`${sig}: stopping nodes`);
    cleanup().finally(() => process.exit(130));
  });
}
process.once('exit', () => {
  // Last resort if we exit without awaiting cleanup (synchronous kill only).
  for (const c of children) c.killNow();
});

/** A `medledger start --home` process. */
export class NodeProc {
  constructor(name, home, api, env = {}, nodeArgs = []) {
    this.name = name;
    this.home = home;
    this.api = api;
    this.env = env;
    this.nodeArgs = nodeArgs;
    this.child = undefined;
    this.output = '';
  }

  start() {
    this.child = spawn(process.execPath, [...this.nodeArgs, CLI, 'start', '--home', this.home], {
      // As `medledger testnet start` runs its nodes.
      env: { ...NODE_PROCESS_ENV, ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d) => (this.output = (this.output + d.toString()).slice(-8000));
    this.child.stdout.on('data', keep);
    this.child.stderr.on('data', keep);
    this.child.once('exit', () => children.delete(this));
    children.add(this);
    return this;
  }

  get pid() {
    return this.child?.pid;
  }

  get running() {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  killNow() {
    if (this.running) this.child.kill('SIGKILL');
  }

  async stop(sig = 'SIGTERM', timeoutMs = 10_000) {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(sig);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  /** utime + stime in seconds, from /proc/<pid>/stat. */
  cpuSeconds() {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
    } catch {
      return NaN;
    }
  }

  /** { rssMb, peakRssMb } from /proc/<pid>/status (VmRSS, VmHWM). */
  memory() {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
      return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
    } catch {
      return { rssMb: NaN, peakRssMb: NaN };
    }
  }
}

export async function getJson(url, timeoutMs = 5000) {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function waitFor(what, check, timeoutMs, everyMs = 200) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      if (err.fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(everyMs);
  }
}

/**
 * A keep-alive HTTP/1.1 connection that sends whole requests one at a time (no pipelining)
 * and parses only the status line and Content-Length of each response. The load generator shares
 * two cores with the nodes it measures, so its per-request cost is kept to a buffer write and a
 * header scan (node:http would cost several times more CPU per request).
 */
export class RawHttpConnection {
  constructor(host, port) {
    this.host = host;
    this.port = port;
    this.socket = undefined;
    this.buf = Buffer.alloc(0);
    this.pending = undefined;
  }

  #connect() {
    this.socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket.on('data', (d) => this.#onData(d));
    const fail = (err) => {
      this.socket = undefined;
      this.buf = Buffer.alloc(0);
      const p = this.pending;
      this.pending = undefined;
      p?.reject(err ?? new Error('connection closed'));
    };
    this.socket.on('error', fail);
    this.socket.on('close', () => fail());
  }

  /** Sends one request (a complete HTTP/1.1 request in `bytes`); resolves {status, head, body}, the body as bytes. */
  request(bytes, timeoutMs) {
    if (this.pending) throw new Error('one request at a time');
    if (!this.socket) this.#connect();
    const socket = this.socket;
    return new Promise((resolve, reject) => {
      // A request without an answer in time closes the connection; the next request opens another.
      const timer = timeoutMs && setTimeout(() => socket.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      const settled = (f) => (v) => {
        clearTimeout(timer);
        f(v);
      };
      this.pending = { resolve: settled(resolve), reject: settled(reject) };
      socket.write(bytes);
    });
  }

  #onData(d) {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    const end = this.buf.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buf.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const len = m ? Number(m[1]) : 0;
    if (this.buf.length < end + 4 + len) return;
    const body = this.buf.subarray(end + 4, end + 4 + len);
    this.buf = this.buf.subarray(end + 4 + len);
    const p = this.pending;
    this.pending = undefined;
    p?.resolve({ status, head, body });
  }

  close() {
    this.socket?.destroy();
  }
}

/** A whole POST request for RawHttpConnection; the body is `parts`, one after the other. */
export function postRequestBytes(host, port, path, contentType, parts) {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const head = `POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: ${contentType}\r\nContent-Length: ${length}\r\nConnection: keep-alive\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), ...parts]);
}

/** A whole GET request for RawHttpConnection. */
export function getRequestBytes(host, port, path, accept) {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: ${accept}\r\nConnection: keep-alive\r\n\r\n`,
    'latin1',
  );
}

/** Prints the result: progress went to stderr, the JSON object is the last line of stdout. */
export function printResult(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}
