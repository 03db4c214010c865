import {
  MedLedgerError,
  MAX_TX_BYTES,
  decodeByteStrings,
  decodeCanonical,
  decodeTx,
  encodeCanonical,
  encodedTxSignBytes,
  toHex,
  TypesErrorCode,
} from '@medledger/types';
import { sha256, type VerifierPool, type VerifyItem } from '@medledger/crypto';
import type { NetworkService } from '@medledger/network';
import type { VerifiedTxCache } from '../chain/verified-txs.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { DecodedBytes, Mempool } from './mempool.js';
import type { MempoolTx } from './interface.js';
import { NodeErrorCode } from '../errors.js';
import type { TxRelayOptions } from './options.js';

/** Batches smaller than this are checked on the main thread. */
const PREVERIFY_MIN_BATCH = 32;
/** Txs checked between two yields to the event loop while a batch is admitted. */
const CHUNK = 32;
const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Faults that prove the sender relayed something no honest node would have checked and passed. */
const PEER_FAULTS = new Set<string>([
  NodeErrorCode.BadSignature,
  TypesErrorCode.INVALID_SHAPE,
  TypesErrorCode.ENCODING,
  TypesErrorCode.NON_CANONICAL,
  TypesErrorCode.UNKNOWN_TX_TYPE,
  TypesErrorCode.TOO_LARGE,
]);

/**
 * A batch's answer: empty when all of it was taken, else how many txs from its start were (the
 * receiver's pool had no room for the next one).
 */
function takenCount(answer: Uint8Array, sent: number): number {
  const n = decodeCanonical(answer, 1);
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n >= sent) {
    throw new MedLedgerError(NodeErrorCode.BadTxBatch, 'tx batch answer is not a count below the batch size');
  }
  return n;
}

/** Refusals that say "not now": the rest of the batch waits at the sender. */
const NO_ROOM = new Set<string>([NodeErrorCode.MempoolFull, NodeErrorCode.RateLimited]);

type Outgoing = Pick<MempoolTx, 'bytes' | 'hashHex'>;

interface PeerOutbox {
  txs: Outgoing[];
  /** Send the pool (in nonce order) before anything queued: this peer missed txs. */
  resync: boolean;
  sending: boolean;
}

/**
 * Spreads txs between mempools (ADR 0005, addendum). A node sends the txs its own API accepted
 * straight to every connected member, one batch in flight per peer; a peer that just connected,
 * or that missed a batch, gets the pool's contents first. Received txs are not forwarded: members dial
 * each other in a full mesh, and a proposer's peers fetch any tx they miss with the proposal.
 * Gossipsub delivered every batch up to three times per node in a 4-node mesh (each copy
 * decoded, hashed and decrypted). A peer answers a batch once it is admitted, so a busy peer
 * paces the sender and batches grow under load instead of the message count.
 *
 * Nothing is dropped silently: nonces may have gaps, so a peer that missed an account's tx n
 * but got n + 1 could propose n + 1 and strand n for good. A peer whose pool is full takes what
 * fits and answers how much that was; the sender sends the rest again, first, after a pause.
 */
export class TxRelay {
  #pending: Outgoing[] = [];
  #pendingBytes = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #outboxes = new Map<string, PeerOutbox>();
  /** Batches are admitted one at a time, in arrival order (an account's nonces stay in order). */
  #admitting: Promise<unknown> = Promise.resolve();
  /** Peers with a batch waiting or being admitted. */
  readonly #admittingFrom = new Set<string>();
  readonly #stop = new AbortController();
  /** Own txs sent and not yet delivered to every peer: peers still to answer, time sent (oldest first). */
  readonly #undelivered = new Map<string, { peers: number; at: number }>();

  constructor(
    private readonly opts: TxRelayOptions,
    private readonly m: {
      network: NetworkService;
      mempool: Mempool;
      logger: Logger;
      metrics: Pick<Metrics, 'relayTxsSent' | 'relayTxsReceived' | 'relayDeferrals' | 'relayResyncs'>;
      verifier?: { pool: VerifierPool; verified: VerifiedTxCache };
    },
  ) {}

  async start(): Promise<void> {
    await this.m.network.handle(this.opts.protocol, (data, from) => this.#receive(data, from), {
      maxRequestBytes: this.opts.maxBatchBytes + MAX_TX_BYTES + 1024,
      maxResponseBytes: 16,
      // One batch in flight per peer: the rate is bounded by flushMs, not by this.
      requestsPerSecond: Math.ceil(2000 / this.opts.flushMs),
      // The kept stream, and one more while a reconnected peer's old one closes.
      maxStreamsPerPeer: 4,
    });
  }

  stop(): void {
    this.#stop.abort();
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
    this.#outboxes.clear();
    this.#undelivered.clear();
  }

  /** Queues a tx this node's API accepted for every peer. */
  broadcast(tx: Outgoing): void {
    if (this.#outboxes.size > 0) {
      this.#undelivered.set(tx.hashHex, { peers: this.#outboxes.size, at: performance.now() });
    }
    this.#pending.push(tx);
    this.#pendingBytes += tx.bytes.length;
    if (this.#pending.length >= this.opts.maxBatchTxs || this.#pendingBytes >= this.opts.maxBatchBytes) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.opts.flushMs);
  }

  /** Follows the connected peers: forgets those gone, and a newcomer gets the pool. */
  syncPeers(): void {
    const connected = new Set(this.m.network.connectedPeers().map((p) => p.peerId));
    for (const peer of this.#outboxes.keys()) if (!connected.has(peer)) this.#outboxes.delete(peer);
    for (const peer of connected) {
      if (this.#outboxes.has(peer)) continue;
      const outbox: PeerOutbox = { txs: [], resync: true, sending: false };
      this.#outboxes.set(peer, outbox);
      this.m.metrics.relayResyncs.inc({ reason: 'connected' });
      void this.#drain(peer, outbox);
    }
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const txs = this.#pending;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.syncPeers();
    // Txs that went into a proposal when their wait was over, or whose peer went away.
    const now = performance.now();
    for (const [hash, sent] of this.#undelivered) {
      if (now - sent.at < this.opts.deliveryWaitMs) break;
      this.#undelivered.delete(hash);
    }
    for (const [peer, outbox] of this.#outboxes) {
      // A resync sends the pool, which holds these txs already.
      if (outbox.resync) continue;
      outbox.txs.push(...txs);
      if (outbox.txs.length > this.opts.maxQueuedTxs) this.#resyncLater(outbox, 'overflow');
      if (!outbox.sending) void this.#drain(peer, outbox);
    }
  }

  #resyncLater(outbox: PeerOutbox, reason: 'overflow' | 'failed'): void {
    outbox.txs = [];
    outbox.resync = true;
    this.m.metrics.relayResyncs.inc({ reason });
  }

  async #drain(peer: string, outbox: PeerOutbox): Promise<void> {
    if (outbox.sending) return;
    outbox.sending = true;
    try {
      while (this.#outboxes.get(peer) === outbox && !this.#stop.signal.aborted) {
        if (outbox.resync) {
          outbox.resync = false;
          outbox.txs = this.m.mempool.reap(this.opts.maxResyncTxs, Number.MAX_SAFE_INTEGER);
        }
        if (outbox.txs.length === 0) return;
        const sent = this.#takeBatch(outbox);
        if (sent.length === 0) continue;
        try {
          const answer = await this.m.network.request(
            peer,
            this.opts.protocol,
            encodeCanonical(sent.map((tx) => tx.bytes)),
            {
              signal: AbortSignal.any([this.#stop.signal, AbortSignal.timeout(this.opts.requestTimeoutMs)]),
              maxResponseBytes: 16,
              keepStream: true,
            },
          );
          const taken = answer.length === 0 ? sent.length : takenCount(answer, sent.length);
          this.m.metrics.relayTxsSent.inc(taken);
          for (const tx of sent.slice(0, taken)) {
            const pending = this.#undelivered.get(tx.hashHex);
            if (pending && --pending.peers <= 0) this.#undelivered.delete(tx.hashHex);
          }
          if (taken < sent.length) {
            // The peer's pool is full: the rest goes again first, in order, once blocks make room.
            // Only these: sending it the whole pool would mostly repeat what it holds.
            outbox.txs = [...sent.slice(taken), ...outbox.txs];
            this.m.metrics.relayDeferrals.inc();
            await new Promise((resolve) => setTimeout(resolve, this.opts.retryMs));
          }
        } catch (err) {
          if (this.#stop.signal.aborted) return;
          this.m.logger.debug({ peer, err: (err as Error).message }, 'tx batch not delivered; resending the pool');
          this.#resyncLater(outbox, 'failed');
          await new Promise((resolve) => setTimeout(resolve, this.opts.retryMs));
        }
      }
    } finally {
      outbox.sending = false;
    }
  }

  /**
   * Whether a proposal may include this tx without its peers fetching it: it came from a peer,
   * reached every peer, or has waited `deliveryWaitMs` (a slow or lost peer does not hold it back).
   */
  delivered(hashHex: string): boolean {
    const sent = this.#undelivered.get(hashHex);
    if (!sent) return true;
    if (performance.now() - sent.at < this.opts.deliveryWaitMs) return false;
    this.#undelivered.delete(hashHex);
    return true;
  }

  /**
   * Takes the front of the queue, up to the batch limits. A tx that left the pool while it
   * queued was committed (the peer has it in a block, or fetched it for the proposal) or
   * dropped as invalid: it is not sent.
   */
  #takeBatch(outbox: PeerOutbox): Outgoing[] {
    const batch: Outgoing[] = [];
    let bytes = 0;
    let n = 0;
    for (; n < outbox.txs.length && batch.length < this.opts.maxBatchTxs && bytes < this.opts.maxBatchBytes; n++) {
      const tx = outbox.txs[n]!;
      if (!this.m.mempool.has(tx.hashHex)) continue;
      batch.push(tx);
      bytes += tx.bytes.length;
    }
    outbox.txs = outbox.txs.slice(n);
    return batch;
  }

  /**
   * Answers once the batch is admitted: the sender waits, so a busy receiver slows it down. An
   * honest sender has one batch in flight per peer; a second one while the first waits is
   * answered "none taken" (the sender sends it again after a pause), so that one peer cannot
   * queue batches, and hold their bytes, without bound.
   */
  #receive(data: Uint8Array, from: string): Promise<Uint8Array> {
    if (this.#admittingFrom.has(from)) return Promise.resolve(encodeCanonical(0));
    this.#admittingFrom.add(from);
    const run = this.#admitting.then(() => this.#admit(data, from)).finally(() => this.#admittingFrom.delete(from));
    this.#admitting = run.catch(() => undefined);
    return run;
  }

  async #admit(data: Uint8Array, from: string): Promise<Uint8Array> {
    let txs: Uint8Array[];
    try {
      txs = decodeByteStrings(data, this.opts.maxBatchTxs);
    } catch (err) {
      throw new MedLedgerError(NodeErrorCode.BadTxBatch, `tx batch: ${(err as Error).message}`);
    }
    if (txs.length === 0) throw new MedLedgerError(NodeErrorCode.BadTxBatch, 'tx batch is empty');
    // Hashed and decoded once here; the pool takes them as they are.
    const fresh: { bytes: Uint8Array; decoded?: DecodedBytes; at: number }[] = [];
    // A tx repeated within the batch is checked once (a forged one repeated would cost a verify each).
    const inBatch = new Set<string>();
    for (const [at, raw] of txs.entries()) {
      const hash = sha256(raw);
      const hashHex = toHex(hash);
      if (this.m.mempool.has(hashHex) || inBatch.has(hashHex)) continue;
      inBatch.add(hashHex);
      try {
        fresh.push({ bytes: raw, decoded: { hash, hashHex, tx: decodeTx(raw) }, at });
      } catch {
        fresh.push({ bytes: raw, at }); // mempool.add names the fault
      }
    }
    const received = this.m.metrics.relayTxsReceived;
    received.inc({ result: 'known' }, txs.length - fresh.length);
    // Small batches (light load) are cheaper to check inline than to post to a thread.
    if (this.m.verifier && fresh.length >= PREVERIFY_MIN_BATCH) await this.#preverify(fresh, this.m.verifier);
    for (const [i, { bytes, decoded, at }] of fresh.entries()) {
      if (i > 0 && i % CHUNK === 0) await yieldToLoop();
      try {
        this.m.mempool.add(bytes, 'peer', decoded);
        received.inc({ result: 'added' });
      } catch (err) {
        received.inc({ result: 'refused' });
        if (err instanceof MedLedgerError && PEER_FAULTS.has(err.code)) {
          this.m.logger.warn({ peer: from, code: err.code }, 'peer relayed an invalid tx; rest of its batch dropped');
          throw new MedLedgerError(NodeErrorCode.BadTxBatch, `a tx of the batch is invalid: ${err.code}`);
        }
        if (err instanceof MedLedgerError && NO_ROOM.has(err.code)) {
          // The answer says how much of the batch was taken; the sender sends the rest again
          // later. Taking a later tx of an account whose earlier one was refused would strand it.
          return encodeCanonical(at);
        }
        // Stale nonces, already committed or pending: normal races, not the peer's fault.
      }
    }
    return new Uint8Array(0);
  }

  /**
   * Checks the signatures of a batch on the verifier pool's threads and records the valid ones
   * as verified, so that `mempool.add` does not check them again on the main thread. The event
   * loop stays free for consensus and the API meanwhile (ADR 0008).
   */
  async #preverify(
    txs: { bytes: Uint8Array; decoded?: DecodedBytes }[],
    v: { pool: VerifierPool; verified: VerifiedTxCache },
  ): Promise<void> {
    const items: VerifyItem[] = [];
    const ids: string[] = [];
    for (const { bytes, decoded } of txs) {
      if (!decoded || v.verified.has(decoded.hashHex)) continue;
      const { tx } = decoded;
      items.push({ publicKey: tx.from, message: encodedTxSignBytes(bytes), signature: tx.signature });
      ids.push(decoded.hashHex);
    }
    const ok = await v.pool.verify(items);
    ok.forEach((valid, i) => valid && v.verified.add(ids[i]!));
  }
}
