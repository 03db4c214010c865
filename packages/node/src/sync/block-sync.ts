import {
  MedLedgerError,
  assertArray,
  assertBytes,
  assertUint,
  bytesEqual,
  decodeBlock,
  decodeCanonical,
  decodeCommit,
  decodeTx,
  encodeCanonical,
  encodeCommit,
  encodedTxSignBytes,
  shapeError,
  toHex,
  type Block,
  type Commit,
  type Tx,
} from '@medledger/types';
import type { VerifierPool, VerifyItem } from '@medledger/crypto';
import type { BlockStore } from '@medledger/db';
import type { NetworkService } from '@medledger/network';
import { blockHash, type Chain, type CommittedBlock } from '../chain/chain.js';
import type { VerifiedTxCache } from '../chain/verified-txs.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { NodeErrorCode } from '../errors.js';
import { DEFAULT_SYNC_OPTIONS, type BlockSyncOptions } from './options.js';

const SYNC_RESPONSE_TARGET_BYTES = 2 * 1024 * 1024;
/** First and longest pause for a peer that claimed to be ahead and served nothing. */
const MIN_BACKOFF_MS = 10_000;
const MAX_BACKOFF_MS = 5 * 60_000;

interface FetchedBlock {
  block: Block;
  /** As received: its canonical encoding, stored as it is. */
  bytes: Uint8Array;
  commit: Commit;
}

export interface PeerStatus {
  peerId: string;
  height: number;
}

/**
 * Block sync: serves committed blocks with their commit certificates, and brings this node up
 * to the best height its peers report, verifying every certificate against the validator set
 * before it executes a block. Consensus is paused while it runs.
 */
export class BlockSync {
  constructor(
    private readonly opts: BlockSyncOptions,
    private readonly m: {
      network: NetworkService;
      chain: Chain;
      blocks: BlockStore;
      logger: Logger;
      metrics: Metrics;
      onApplied: (committed: CommittedBlock) => void;
      /**
       * Needed with `verifyTxSignatures`: the node's verifier pool (its threads are
       * `mempool.verifyThreads`; 0 checks on the main thread) and the cache where the signatures
       * it verified ahead are recorded (ADR 0008).
       */
      verifier?: { pool: VerifierPool; verified: VerifiedTxCache };
    },
  ) {
    if (opts.verifyTxSignatures && !m.verifier) {
      throw new MedLedgerError(NodeErrorCode.ConfigInvalid, 'block sync verifies tx signatures only with a verifier');
    }
  }
  /** Blocks asked for per request, adapted to their size (see #fetchRange). */
  #count = 16;
  /** Txs of fetched blocks, decoded (and verified, when so configured), by hex hash; for block execution. */
  readonly #decoded = new Map<string, Tx>();
  /**
   * Peers left out of catch-up until `until` (`performance.now()`): a status height is only a
   * claim, and a peer that claims to be ahead and then serves nothing would otherwise hold
   * consensus (paused while sync runs) for a request timeout every few seconds. The pause
   * doubles while it keeps doing so, and ends once it serves a block.
   */
  readonly #backoff = new Map<string, { until: number; ms: number }>();

  async start(): Promise<void> {
    // A syncing peer has one range in flight and one ahead; a status check is one request.
    const limits = { maxRequestBytes: 64, requestsPerSecond: 50, maxStreamsPerPeer: 8 };
    await this.m.network.handle(
      this.opts.statusProtocol,
      async () => {
        const latest = this.m.chain.latest;
        return encodeCanonical([this.m.chain.height, latest?.hash ?? new Uint8Array(0)]);
      },
      { ...limits, maxResponseBytes: 128 },
    );
    await this.m.network.handle(this.opts.syncProtocol, async (req) => this.#serve(req), {
      ...limits,
      maxResponseBytes: this.opts.maxResponseBytes,
    });
  }

  #serve(req: Uint8Array): Uint8Array {
    const v = decodeCanonical(req);
    if (!Array.isArray(v) || v.length !== 2) throw shapeError('sync request', '[from, count]');
    const from = assertUint(v[0], 'from');
    const count = Math.min(assertUint(v[1], 'count'), this.opts.batchBlocks);
    const out: Uint8Array[][] = [];
    let bytes = 0;
    for (let h = from; h < from + count && h <= this.m.chain.height; h++) {
      const block = this.m.blocks.getBlockBytes(h);
      const commit = this.m.blocks.getCommit(h);
      if (!block || !commit) break;
      const commitBytes = encodeCommit(commit);
      bytes += block.length + commitBytes.length + 16;
      if (bytes > this.opts.maxResponseBytes - 1024 && out.length > 0) break;
      out.push([block, commitBytes]);
    }
    return encodeCanonical(out);
  }

  /** Heights that connected peers report, leaving out those in backoff. */
  async peerStatuses(): Promise<PeerStatus[]> {
    const now = performance.now();
    const peers = this.m.network.connectedPeers().filter((p) => (this.#backoff.get(p.peerId)?.until ?? 0) <= now);
    const results = await Promise.allSettled(
      peers.map(async (p) => {
        const res = await this.m.network.request(p.peerId, this.opts.statusProtocol, new Uint8Array(0), {
          signal: AbortSignal.timeout(2000),
          maxResponseBytes: 128,
        });
        const v = decodeCanonical(res);
        if (!Array.isArray(v)) throw shapeError('status', 'a list');
        return { peerId: p.peerId, height: assertUint(v[0], 'height') };
      }),
    );
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  }

  /**
   * Decodes the txs of fetched blocks ahead of their execution (the next range while this one
   * executes). With `verifyTxSignatures`, their signatures are checked on the verifier pool; the
   * valid ones go to the verified-tx cache, and an invalid one is left out, so its block fails
   * validation as it would have without this step. Without it, a block's commit certificate
   * vouches for its txs: more than 2/3 of the validators checked every signature before voting.
   */
  async #prepare(blocks: Block[]): Promise<void> {
    const verifier = this.opts.verifyTxSignatures ? this.m.verifier : undefined;
    const items: VerifyItem[] = [];
    const ids: string[] = [];
    const txs: Tx[] = [];
    for (const block of blocks) {
      let hashes: Uint8Array[];
      try {
        hashes = this.m.chain.checkBody(block); // remembered for the block's validation
      } catch {
        continue; // rejected when the block is validated
      }
      for (const [i, raw] of block.txs.entries()) {
        const id = toHex(hashes[i]!);
        let tx: Tx;
        try {
          tx = decodeTx(raw);
        } catch {
          continue; // left to block validation, which rejects it
        }
        if (!verifier || verifier.verified.has(id)) {
          this.#decoded.set(id, tx);
          continue;
        }
        items.push({ publicKey: tx.from, message: encodedTxSignBytes(raw), signature: tx.signature });
        ids.push(id);
        txs.push(tx);
      }
    }
    if (!verifier || items.length === 0) return;
    const ok = await verifier.pool.verify(items, {
      minBatch: this.opts.verifyMinBatch ?? DEFAULT_SYNC_OPTIONS.verifyMinBatch,
    });
    ok.forEach((valid, i) => {
      if (!valid) return;
      verifier.verified.add(ids[i]!);
      this.#decoded.set(ids[i]!, txs[i]!);
    });
  }

  /** Applies blocks from the best peers until none reports more than we have. */
  async catchUp(reason: string): Promise<number> {
    let applied = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      const statuses = (await this.peerStatuses()).filter((s) => s.height > this.m.chain.height);
      if (statuses.length === 0) break;
      statuses.sort((a, b) => b.height - a.height);
      const target = statuses[0]!.height;
      this.m.logger.info({ reason, from: this.m.chain.height, target, peers: statuses.length }, 'block sync');
      let progressed = false;
      for (const peer of statuses) {
        try {
          const n = await this.#fetchFrom(peer.peerId, target);
          applied += n;
          if (n > 0) {
            progressed = true;
            this.#backoff.delete(peer.peerId);
          } else this.#backOff(peer.peerId, 'served no block');
          if (this.m.chain.height >= target) break;
        } catch (err) {
          this.#backOff(peer.peerId, (err as Error).message);
        }
      }
      if (!progressed) break;
    }
    if (applied > 0) this.m.logger.info({ applied, height: this.m.chain.height }, 'block sync done');
    return applied;
  }

  #backOff(peerId: string, reason: string): void {
    const ms = Math.min(MAX_BACKOFF_MS, 2 * (this.#backoff.get(peerId)?.ms ?? MIN_BACKOFF_MS / 2));
    this.#backoff.set(peerId, { until: performance.now() + ms, ms });
    this.m.logger.warn(
      { peer: peerId, reason, backoffMs: ms },
      'block sync from peer failed; peer left out for a while',
    );
  }

  async #fetchFrom(peerId: string, target: number): Promise<number> {
    let applied = 0;
    // One request ahead: the next range is fetched, decoded and its signatures checked on the
    // worker threads while this one is executed and written.
    let next: Promise<FetchedBlock[]> | undefined = this.#fetchRange(peerId, this.m.chain.height + 1);
    try {
      while (next) {
        const batch = await next;
        next = undefined;
        if (batch.length === 0) break;
        const after = batch[batch.length - 1]!.block.header.height + 1;
        if (after <= target) next = this.#fetchRange(peerId, after);
        for (const { block, bytes, commit } of batch) {
          const height = this.m.chain.height + 1;
          if (block.header.height !== height)
            throw new MedLedgerError(
              NodeErrorCode.SyncOutOfOrder,
              `peer sent height ${block.header.height}, expected ${height}`,
            );
          if (!bytesEqual(commit.blockHash, blockHash(block.header)))
            throw new MedLedgerError(NodeErrorCode.InvalidCommit, 'commit is not for this block');
          this.m.chain.verifyCommit(commit, height);
          const known = (h: string) => this.#decoded.get(h);
          const committed = await this.m.chain.commit(block, commit, { known, bytes });
          for (const h of committed.txHashes) this.#decoded.delete(h);
          this.m.metrics.syncedBlocks.inc();
          this.m.onApplied(committed);
          applied++;
          if (applied % 1000 === 0) this.m.logger.info({ height, target }, 'block sync progress');
        }
      }
    } finally {
      next?.catch(() => undefined);
      this.#decoded.clear();
    }
    return applied;
  }

  async #fetchRange(peerId: string, from: number): Promise<FetchedBlock[]> {
    const res = await this.m.network.request(peerId, this.opts.syncProtocol, encodeCanonical([from, this.#count]), {
      signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
      maxResponseBytes: this.opts.maxResponseBytes,
    });
    const entries = assertArray(decodeCanonical(res), 'sync response', this.opts.batchBlocks);
    // About 2 MB a response: big enough to amortise a round trip, small enough that the next
    // range is fetched and verified while this one executes, and memory stays bounded.
    if (entries.length > 0) {
      const perBlock = res.length / entries.length;
      this.#count = Math.max(1, Math.min(this.opts.batchBlocks, Math.floor(SYNC_RESPONSE_TARGET_BYTES / perBlock)));
    }
    const batch = entries.map((entry, i) => {
      if (!Array.isArray(entry) || entry.length !== 2) throw shapeError(`sync response[${i}]`, 'a pair');
      // The decoder accepts only the canonical encoding, so these bytes are the block's own.
      const bytes = assertBytes(entry[0], 'block');
      return { block: decodeBlock(bytes), bytes, commit: decodeCommit(assertBytes(entry[1], 'commit')) };
    });
    await this.#prepare(batch.map((d) => d.block));
    return batch;
  }
}
