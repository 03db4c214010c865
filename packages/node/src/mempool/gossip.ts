import { MedLedgerError, decodeCanonical, encodeCanonical } from '@medledger/types';
import { GossipVerdict, type NetworkService } from '@medledger/network';
import type { Logger } from '../logger.js';
import type { Mempool } from './mempool.js';
import { NodeErrorCode } from '../errors.js';

export interface TxGossipOptions {
  topic: string;
  /** Txs per gossip message. */
  maxBatch: number;
  /** How long a tx may wait for its batch to fill. */
  flushMs: number;
}

/** Faults that prove the sender gossiped something no honest node would have checked and passed. */
const PEER_FAULTS = new Set<string>([
  NodeErrorCode.BadSignature,
  'INVALID_SHAPE',
  'ENCODING_INVALID',
  'ENCODING_NON_CANONICAL',
  'UNKNOWN_TX_TYPE',
  'TOO_LARGE',
]);

/**
 * Spreads txs between mempools in batches (one gossip message carries up to `maxBatch` txs).
 * A node publishes only txs its own API accepted; gossipsub forwards the rest. Every tx of an
 * incoming batch is checked into the mempool during validation, so a batch holding a forged tx
 * is rejected (and its sender scored down) before it travels further.
 */
export class TxGossip {
  #pending: Uint8Array[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly opts: TxGossipOptions,
    private readonly m: { network: NetworkService; mempool: Mempool; logger: Logger },
  ) {}

  start(): void {
    this.m.network.subscribe(
      this.opts.topic,
      (data) => this.#validate(data),
      () => undefined,
    );
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = [];
  }

  broadcast(tx: Uint8Array): void {
    this.#pending.push(tx);
    if (this.#pending.length >= this.opts.maxBatch) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), this.opts.flushMs);
  }

  #flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const batch = encodeCanonical(this.#pending);
    this.#pending = [];
    this.m.network
      .publish(this.opts.topic, batch)
      .catch((err: unknown) => this.m.logger.debug({ err }, 'tx gossip failed'));
  }

  #validate(data: Uint8Array): GossipVerdict {
    let txs: unknown;
    try {
      txs = decodeCanonical(data);
    } catch {
      return GossipVerdict.Reject;
    }
    if (!Array.isArray(txs) || txs.length === 0 || txs.length > this.opts.maxBatch) return GossipVerdict.Reject;
    let fresh = 0;
    for (const tx of txs) {
      if (!(tx instanceof Uint8Array)) return GossipVerdict.Reject;
      try {
        const before = this.m.mempool.size;
        this.m.mempool.add(tx);
        if (this.m.mempool.size > before) fresh++;
      } catch (err) {
        if (err instanceof MedLedgerError && PEER_FAULTS.has(err.code)) return GossipVerdict.Reject;
        // Stale nonces, full pool, already committed: normal races, not the peer's fault.
      }
    }
    return fresh > 0 ? GossipVerdict.Accept : GossipVerdict.Ignore;
  }
}
