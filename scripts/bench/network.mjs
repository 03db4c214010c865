// A local testnet for the benchmark: `medledger testnet init`, extra signing organisations in
// genesis, pre-signed txs, node processes, a commit tracker and per-account submission lanes.
import { spawnSync } from 'node:child_process';
import { createPublicKey, hash, randomBytes, verify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Signer, generateKeyPair, readKeyFile, signTx, verifySignature } from '@medledger/crypto';
import { TxType, decodeBlock, encodeCanonical, toHex, txSignBytes } from '@medledger/types';
import {
  CLI,
  NodeProc,
  RawHttpConnection,
  getJson,
  getRequestBytes,
  log,
  postRequestBytes,
  sleep,
  waitFor,
} from './lib.mjs';

/**
 * Single-core ed25519 verify rate over the sign bytes of real record-anchoring txs, through the
 * node's own `verifySignature` (libsodium) unless another `verifyFn` is given.
 */
export function measureVerifyRate(seconds = 2, verifyFn = verifySignature) {
  const signers = Array.from({ length: 4 }, () => new Signer(generateKeyPair().secretKey));
  const samples = Array.from({ length: 512 }, (_, i) => {
    const s = signers[i % signers.length];
    const { tx } = signTx(s, {
      chainId: 'bench',
      type: TxType.RecordAnchor,
      nonce: i + 1,
      payload: anchorPayload(randomId(), 'Observation'),
    });
    const msg = txSignBytes(tx);
    return { pub: tx.from, msg, sig: tx.signature };
  });
  for (const s of samples) verifyFn(s.pub, s.msg, s.sig); // warm the JIT (and any key cache)
  let n = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 256; i++) {
      const s = samples[n++ % samples.length];
      if (!verifyFn(s.pub, s.msg, s.sig)) throw new Error('verify failed');
    }
    now = performance.now();
  }
  return Math.round(n / ((now - start) / 1000));
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const opensslKeys = new Map();

/** OpenSSL's verify with cached key objects: what nodes used before ADR 0009, kept for comparison. */
export function opensslVerify(pub, msg, sig) {
  const id = toHex(pub);
  if (!opensslKeys.has(id)) {
    opensslKeys.set(id, createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki' }));
  }
  return verify(null, msg, opensslKeys.get(id), sig);
}

export const randomId = () => randomBytes(16).toString('hex');

function anchorPayload(patient, resourceType) {
  return { record: randomId(), patient, resourceType, contentHash: randomBytes(32), size: 4096, previous: null };
}

/** A FHIR-shaped resource type name of `len` letters (`Observation` padded), to set the tx size. */
function resourceTypeOfLength(len) {
  const base = 'Observation';
  if (len <= base.length) return base.slice(0, Math.max(2, len));
  return (base + 'X'.repeat(64)).slice(0, Math.min(64, len));
}

/** Chain parameters from env `BENCH_PARAMS` (a JSON object), to experiment: e.g. `{"emptyBlockIntervalMs":0}`. */
function envParams() {
  const raw = process.env.BENCH_PARAMS;
  if (!raw) return {};
  const parsed = JSON.parse(raw);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('BENCH_PARAMS must be a JSON object of chain parameters');
  }
  return parsed;
}

/**
 * `medledger testnet init`, then `extraOrgs` bench organisations (org key only, no node) added to
 * the shared genesis of every home before the first start. Each signing account submits its txs
 * in nonce order through one lane, so the number of accounts bounds the submissions in flight.
 */
export function initNetwork(dir, { validators, basePort, extraOrgs, params }) {
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      'testnet',
      'init',
      '--validators',
      String(validators),
      '--dir',
      dir,
      '--base-port',
      String(basePort),
      '--json',
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`testnet init failed: ${r.stderr}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'testnet.json'), 'utf8'));
  const genesisPath = (home) => join(home, 'config', 'genesis.json');
  const genesis = JSON.parse(readFileSync(genesisPath(manifest.nodes[0].home), 'utf8'));
  const accounts = manifest.nodes.map((n) => ({
    org: n.orgId,
    signer: new Signer(readKeyFile(n.orgKey).secretKey),
  }));
  for (let i = 0; i < extraOrgs; i++) {
    const kp = generateKeyPair();
    const id = `bench-org-${i}`;
    genesis.orgs.push({
      id,
      name: `Bench org ${i}`,
      kind: 'hospital',
      orgKey: toHex(kp.publicKey),
      encKey: '',
      nodeKeys: [],
    });
    accounts.push({ org: id, signer: new Signer(kp.secretKey) });
  }
  Object.assign(genesis.params, params ?? {}, envParams());
  for (const n of manifest.nodes) writeFileSync(genesisPath(n.home), JSON.stringify(genesis, null, 2) + '\n');
  // Account a submits through node a mod N: every node's API takes a share of the load.
  accounts.forEach((a, i) => {
    a.node = i % manifest.nodes.length;
    a.nonce = 1;
  });
  return { manifest, chainId: manifest.chainId, accounts, genesis };
}

/**
 * Pre-signs `count` record anchors over `patients` patients, round-robin over the accounts (so
 * each account's txs are in nonce order), after the patient registrations. Returns the signed
 * txs with their hashes.
 */
export function presign(net, { patients, anchors, txBytes }) {
  const { chainId, accounts } = net;
  const patientIds = Array.from({ length: patients }, () => randomId());
  const mk = (account, type, payload, kind) => {
    const signed = signTx(account.signer, { chainId, type, nonce: account.nonce++, payload });
    // Every field the run sets later is here from the start: one stable shape for 100,000s of
    // records the load generator keeps for the whole run (it shares the cores with the nodes).
    return {
      account,
      hash: signed.hash,
      // The signed tx as a CBOR byte string, ready to be one element of a `POST /txs/batch` body.
      item: encodeCanonical(signed.bytes),
      kind,
      scheduledAt: undefined,
      sentAt: undefined,
      status: undefined,
      acceptedAt: undefined,
      commits: 0,
      committedAt: 0,
      height: undefined,
    };
  };
  const registrations = patientIds.map((patient, i) =>
    mk(accounts[i % accounts.length], TxType.PatientRegister, { patient, account: null, encKey: null }, 'register'),
  );
  // Size the resource type so the encoded tx lands on txBytes (a record anchor is ~300 bytes).
  const probe = (len) =>
    signTx(accounts[0].signer, {
      chainId,
      type: TxType.RecordAnchor,
      nonce: 1_000_000,
      payload: anchorPayload(patientIds[0], resourceTypeOfLength(len)),
    }).bytes.length;
  const baseLen = probe(11);
  let typeLen = Math.max(2, Math.min(64, 11 + (txBytes ?? baseLen) - baseLen));
  const resourceType = resourceTypeOfLength(typeLen);
  const actualBytes = probe(typeLen);
  if (txBytes && Math.abs(actualBytes - txBytes) > 2)
    log(`--tx-bytes ${txBytes}: a record anchor can be ${probe(2)}..${probe(64)} bytes; using ${actualBytes}`);
  const started = performance.now();
  const list = [];
  for (let i = 0; i < anchors; i++) {
    list.push(
      mk(
        accounts[i % accounts.length],
        TxType.RecordAnchor,
        anchorPayload(patientIds[(i * 7919) % patients], resourceType),
        'anchor',
      ),
    );
    if (i > 0 && i % 50_000 === 0) log(`pre-signed ${i}/${anchors} anchors`);
  }
  const secs = (performance.now() - started) / 1000;
  log(
    `pre-signed ${registrations.length} registrations and ${anchors} anchors of ${actualBytes} bytes in ${secs.toFixed(1)} s`,
  );
  return { registrations, anchors: list, txBytes: actualBytes };
}

/** Starts every node of the manifest (except those in `skip`) and waits until they commit blocks. */
export async function startNodes(manifest, { env = {}, nodeArgs = [], skip = [] } = {}) {
  const procs = manifest.nodes.map((n) => new NodeProc(n.name, n.home, n.api, env, nodeArgs));
  for (const [i, p] of procs.entries()) if (!skip.includes(i)) p.start();
  const running = procs.filter((_, i) => !skip.includes(i));
  await Promise.all(
    running.map((p) =>
      waitFor(
        `${p.name} to start and see its peers`,
        async () => {
          if (!p.running) throw Object.assign(new Error(`${p.name} exited: ${p.output.slice(-2000)}`), { fatal: true });
          const s = await getJson(`${p.api}/status`, 1500);
          return s && s.peers >= running.length - 1 && s.height >= 1 ? s : undefined;
        },
        60_000,
      ),
    ),
  );
  return procs;
}

/**
 * Follows committed blocks by polling `GET /blocks/:h` for the next height, one node per poll in
 * turn, and records when each tracked tx hash was first seen committed (and how many times).
 * Cost on the nodes: one block read per height (its stored bytes, `Accept: application/cbor`)
 * plus one cheap 404 every `idleMs` when there is no new block, instead of one request per tx.
 * The polls go over one keep-alive connection per node: the follower shares the cores with the
 * nodes it measures.
 */
export class CommitTracker {
  constructor(apis, { idleMs = 20 } = {}) {
    this.nodes = apis.map((api) => {
      const { hostname, port } = new URL(api);
      return { host: hostname, port: Number(port), conn: new RawHttpConnection(hostname, Number(port)) };
    });
    this.idleMs = idleMs;
    this.height = 0;
    this.tracked = new Map(); // hash → record {committedAt, commits, height}
    this.blocks = []; // {height, round, txs, seenAt, time}
    this.stopped = false;
    this.loop = undefined;
    this.errors = 0;
    this.committed = 0;
  }

  track(hash, rec) {
    rec.commits = 0;
    rec.committedAt = 0;
    this.tracked.set(hash, rec);
  }

  async start(fromHeight) {
    this.height = fromHeight;
    this.loop = this.#run();
  }

  async #run() {
    let turn = 0;
    while (!this.stopped) {
      const h = this.height + 1;
      let block;
      try {
        block = await this.#getBlock(this.nodes[turn++ % this.nodes.length], h);
      } catch {
        this.errors++;
      }
      if (!block) {
        await sleep(this.idleMs);
        continue;
      }
      const seenAt = performance.now();
      for (const tx of block.txs) {
        const rec = this.tracked.get(hash('sha256', tx, 'hex'));
        if (!rec) continue;
        rec.commits++;
        if (rec.commits === 1) {
          this.committed++;
          rec.committedAt = seenAt;
          rec.height = h;
        }
      }
      this.blocks.push({
        height: h,
        round: block.header.round,
        txs: block.txs.length,
        seenAt,
        time: block.header.time,
      });
      this.height = h;
    }
  }

  async stop() {
    this.stopped = true;
    await this.loop;
    for (const n of this.nodes) n.conn.close();
  }

  /** The block at `height` as its canonical bytes, decoded; undefined when it does not exist yet. */
  async #getBlock({ host, port, conn }, height) {
    const res = await conn.request(getRequestBytes(host, port, `/blocks/${height}`, 'application/cbor'), 10_000);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`GET /blocks/${height}: ${res.status} ${res.body.toString()}`);
    return decodeBlock(res.body);
  }
}

const RETRY_MS = 50;
const MAX_RETRY_MS = 1000;
/** Most txs a lane sends in one `POST /txs/batch`. */
const LANE_BATCH_TXS = 256;
/** Refusals that say nothing against the tx: it goes again after a backoff (RETRY_MS doubling up to MAX_RETRY_MS), as a client would. */
const RETRY_CODES = new Set(['MEMPOOL_FULL', 'NOT_READY']);

/**
 * One submission lane per account: its txs go to its home node in nonce order, everything queued
 * for it (up to LANE_BATCH_TXS) as one `POST /txs/batch`, one request in flight at a time (as
 * `@medledger/client` does), because the node accepts nonce gaps and a tx overtaken by a later
 * nonce of its account could never commit. A tx's `status` becomes 202 when the node takes it in
 * (what `POST /txs` answers), 400 when it refuses it, -1 when its request fails.
 */
export class Lanes {
  constructor(accounts, manifest) {
    this.lanes = accounts.map((a) => {
      const url = new URL(manifest.nodes[a.node].api);
      return {
        account: a,
        host: url.hostname,
        port: Number(url.port),
        conn: new RawHttpConnection(url.hostname, Number(url.port)),
        queue: [],
        head: 0,
        // Txs to send again, in nonce order: they go before anything in the queue.
        retry: [],
        /** Current wait before a retry; doubles while the node stays full. */
        backoff: 0,
        busy: false,
      };
    });
    this.byAccount = new Map(this.lanes.map((l) => [l.account, l]));
    this.inFlight = 0;
    this.closed = false;
    this.stats = { accepted: 0, rejected: 0, errors: 0, retries: 0, codes: {} };
  }

  push(tx) {
    const lane = this.byAccount.get(tx.account);
    lane.queue.push(tx);
    if (!lane.busy) this.#next(lane);
  }

  get backlog() {
    let n = 0;
    for (const l of this.lanes) n += l.queue.length - l.head + l.retry.length;
    return n;
  }

  #next(lane) {
    if (this.closed || (lane.retry.length === 0 && lane.head >= lane.queue.length)) {
      lane.busy = false;
      return;
    }
    const batch = lane.retry.splice(0, LANE_BATCH_TXS);
    while (batch.length < LANE_BATCH_TXS && lane.head < lane.queue.length) batch.push(lane.queue[lane.head++]);
    if (lane.head > 4096) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    }
    lane.busy = true;
    this.inFlight++;
    const sentAt = performance.now();
    for (const tx of batch) tx.sentAt ??= sentAt;
    const parts = [cborArrayHead(batch.length), ...batch.map((tx) => tx.item)];
    lane.conn.request(postRequestBytes(lane.host, lane.port, '/txs/batch', 'application/cbor', parts)).then(
      (res) => {
        this.inFlight--;
        const results = batchResults(res, batch.length);
        if (results) this.#settle(lane, batch, results, retryAfterMs(res.head));
        else this.#failed(lane, batch);
      },
      () => {
        this.inFlight--;
        this.#failed(lane, batch);
      },
    );
  }

  #settle(lane, batch, results, retryAfter) {
    const now = performance.now();
    const retry = [];
    batch.forEach((tx, i) => {
      const r = results[i];
      if (r.accepted) {
        tx.status = 202;
        tx.acceptedAt = now;
        this.stats.accepted++;
      } else if (RETRY_CODES.has(r.error.code)) {
        // The time it waits counts in its latency.
        this.stats.retries++;
        retry.push(tx);
      } else {
        tx.status = 400;
        this.stats.rejected++;
        this.stats.codes[r.error.code] = (this.stats.codes[r.error.code] ?? 0) + 1;
      }
    });
    if (retry.length === 0) {
      lane.backoff = 0;
      return this.#next(lane);
    }
    lane.retry.unshift(...retry);
    // A client backs off while the node is full, as it is asked to: the node's Retry-After when
    // it gives one (a 503 before the batch was read), else a doubling pause.
    lane.backoff = retryAfter ?? Math.min(MAX_RETRY_MS, lane.backoff ? lane.backoff * 2 : RETRY_MS);
    setTimeout(() => this.#next(lane), lane.backoff);
  }

  #failed(lane, batch) {
    for (const tx of batch) tx.status = -1;
    this.stats.errors += batch.length;
    this.#next(lane);
  }

  /** Stops sending: queued txs stay unsent. Resolves when nothing is in flight. */
  async close() {
    this.closed = true;
    while (this.inFlight > 0) await sleep(10);
    for (const l of this.lanes) l.conn.close();
  }

  unsent() {
    return this.backlog;
  }
}

/** The head of a canonical CBOR array of `n` (< 65,536) items: a batch body is it and the items. */
function cborArrayHead(n) {
  if (n < 24) return Uint8Array.of(0x80 | n);
  return n < 0x100 ? Uint8Array.of(0x98, n) : Uint8Array.of(0x99, n >> 8, n & 0xff);
}

/** The wait a response's `Retry-After` (in seconds) asks for, in ms; undefined without one. */
function retryAfterMs(head) {
  const m = /\r\nretry-after:\s*(\d+)/i.exec(head);
  return m ? Number(m[1]) * 1000 : undefined;
}

/**
 * The per-tx results of an answer to a batch of `n` txs; a refusal of the whole batch (a 4xx or
 * 503 with an error body) stands for each of its txs. Undefined when the answer makes no sense.
 */
function batchResults(res, n) {
  let body;
  try {
    body = JSON.parse(res.body.toString());
  } catch {
    /* not the documented JSON */
  }
  if (res.status === 200) return body?.results?.length === n ? body.results : undefined;
  const error = { code: body?.error?.code ?? String(res.status) };
  return Array.from({ length: n }, () => ({ accepted: false, error }));
}

/** Submits `txs` through lanes as fast as they are accepted and waits until all are committed. */
export async function submitAndCommit(lanes, tracker, txs, what, timeoutMs = 600_000) {
  for (const tx of txs) tracker.track(tx.hash, tx);
  for (const tx of txs) lanes.push(tx);
  const started = Date.now();
  let lastLog = 0;
  for (;;) {
    let done = 0;
    let refused = 0;
    for (const t of txs) {
      if (t.commits > 0) done++;
      else if (t.status !== undefined && t.status !== 202) refused++;
    }
    if (refused > 0) throw new Error(`${refused} ${what} refused: ${JSON.stringify(lanes.stats.codes)}`);
    if (done === txs.length) break;
    if (Date.now() - lastLog > 3000) {
      lastLog = Date.now();
      log(`${what}: ${done}/${txs.length} committed, height ${tracker.height}`);
    }
    if (Date.now() - started > timeoutMs) throw new Error(`timed out: ${done}/${txs.length} ${what} committed`);
    await sleep(200);
  }
  return (Date.now() - started) / 1000;
}
