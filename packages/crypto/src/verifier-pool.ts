import { Worker } from 'node:worker_threads';
import { MedLedgerError } from '@medledger/types';
import { verifySignature } from './ed25519.js';
import { CryptoErrorCode } from './errors.js';

/** One ed25519 signature to check. */
export interface VerifyItem {
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
}

export interface VerifierPoolOptions {
  /** Worker threads; 0 verifies on the calling thread. */
  threads: number;
  /** Below this many items a batch is verified on the calling thread: a post costs more. */
  minBatch?: number;
}

/** Per call: a caller whose batches are large may set a higher threshold than the pool's. */
export interface VerifyOptions {
  minBatch?: number;
}

/**
 * ed25519 verification spread over `worker_threads`. Each batch is packed into one buffer per
 * worker and transferred (not copied): posting a message costs tens of microseconds, so only
 * batches of many signatures are worth sending. Results come back as one byte per item.
 *
 * On a machine whose cores are already busy (several nodes on two cores) this adds nothing but
 * the posting cost; it pays where a node has cores to spare, as when one node replays blocks
 * from its peers (ADR 0008).
 */
export class VerifierPool {
  readonly #workers: Worker[] = [];
  /** Batches out per worker: a worker with work keeps the process alive, an idle one does not. */
  readonly #busy = new Map<Worker, number>();
  readonly #minBatch: number;
  #next = 0;
  #seq = 0;
  readonly #waiting = new Map<number, { resolve: (r: Uint8Array) => void; reject: (e: Error) => void }>();

  constructor(opts: VerifierPoolOptions) {
    this.#minBatch = opts.minBatch ?? 64;
    for (let i = 0; i < opts.threads; i++) {
      const w = new Worker(new URL('./verify-worker.js', import.meta.url));
      w.on('message', (m: { id: number; results: Uint8Array }) => {
        const p = this.#waiting.get(m.id);
        this.#waiting.delete(m.id);
        const left = (this.#busy.get(w) ?? 1) - 1;
        this.#busy.set(w, left);
        if (left === 0) w.unref();
        p?.resolve(m.results);
      });
      w.on('error', (err) => {
        const failed = new MedLedgerError(CryptoErrorCode.VERIFIER_FAILED, 'a signature verification thread failed', {
          reason: err.message,
        });
        for (const p of this.#waiting.values()) p.reject(failed);
        this.#waiting.clear();
      });
      w.unref();
      this.#workers.push(w);
    }
  }

  get threads(): number {
    return this.#workers.length;
  }

  /** True for each item whose signature verifies (false for malformed keys or signatures). */
  async verify(items: readonly VerifyItem[], opts: VerifyOptions = {}): Promise<boolean[]> {
    const minBatch = opts.minBatch ?? this.#minBatch;
    if (this.#workers.length === 0 || items.length < minBatch) {
      return items.map((it) => verifySignature(it.publicKey, it.message, it.signature));
    }
    const parts = Math.min(this.#workers.length, Math.ceil(items.length / minBatch));
    const size = Math.ceil(items.length / parts);
    const chunks: Promise<Uint8Array>[] = [];
    for (let start = 0; start < items.length; start += size) chunks.push(this.#post(items.slice(start, start + size)));
    const results = await Promise.all(chunks);
    const out: boolean[] = [];
    for (const r of results) for (const b of r) out.push(b === 1);
    return out;
  }

  #post(items: readonly VerifyItem[]): Promise<Uint8Array> {
    // Layout per item: key length, signature length, message length (u32 each), then the bytes.
    let total = 0;
    for (const it of items) total += 12 + it.publicKey.length + it.signature.length + it.message.length;
    const buf = new Uint8Array(total);
    const view = new DataView(buf.buffer);
    let o = 0;
    for (const it of items) {
      view.setUint32(o, it.publicKey.length);
      view.setUint32(o + 4, it.signature.length);
      view.setUint32(o + 8, it.message.length);
      o += 12;
      buf.set(it.publicKey, o);
      o += it.publicKey.length;
      buf.set(it.signature, o);
      o += it.signature.length;
      buf.set(it.message, o);
      o += it.message.length;
    }
    const id = ++this.#seq;
    const worker = this.#workers[this.#next++ % this.#workers.length]!;
    this.#busy.set(worker, (this.#busy.get(worker) ?? 0) + 1);
    worker.ref();
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      worker.postMessage({ id, count: items.length, buf }, [buf.buffer]);
    });
  }

  async close(): Promise<void> {
    for (const p of this.#waiting.values())
      p.reject(new MedLedgerError(CryptoErrorCode.VERIFIER_CLOSED, 'verifier pool closed'));
    this.#waiting.clear();
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}
