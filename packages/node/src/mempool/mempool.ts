import { MedLedgerError, decodeTx, encodedTxSignBytes, type Tx } from '@medledger/types';
import { addressHex, sha256, verifySignature } from '@medledger/crypto';
import { TxCode, type StateMachine, type TxResult } from '@medledger/state';
import type { MempoolOptions } from '../config/options.js';
import { NodeErrorCode } from '../errors.js';
import type { VerifiedTxCache } from '../chain/verified-txs.js';
import type { MempoolTx, MempoolView } from './interface.js';
import { toHex } from '@medledger/types';

const RESULT_TO_ERROR: Record<number, string> = {
  [TxCode.BadNonce]: NodeErrorCode.BadNonce,
  [TxCode.Unauthorized]: NodeErrorCode.Unauthorized,
  [TxCode.NotFound]: NodeErrorCode.NotFound,
  [TxCode.AlreadyExists]: NodeErrorCode.AlreadyExists,
  [TxCode.WrongChain]: NodeErrorCode.WrongChain,
};

export function txResultError(result: TxResult): MedLedgerError {
  return new MedLedgerError(RESULT_TO_ERROR[result.code] ?? NodeErrorCode.TxRejected, result.log, {
    code: result.code,
  });
}

/** What a caller that already hashed and decoded a tx's bytes hands over, so it is not done twice. */
export interface DecodedBytes {
  hash: Uint8Array;
  hashHex: string;
  tx: Tx;
}

interface AccountQueue {
  /** Pending txs of one account keyed by nonce. */
  byNonce: Map<number, MempoolTx>;
}

/**
 * Holds checked txs until a block includes them. A tx enters only after its shape, signature
 * (once per node, cached by hash) and state rules pass against committed state. Per account,
 * one tx per nonce; block building takes each account's txs in nonce order so a burst sent
 * concurrently lands in order. After every commit the included txs leave and the rest are
 * checked again.
 */
/** Why a tx left the pool uncommitted: the result code and log of the check it failed. */
export interface DropResult {
  code: number;
  log: string;
}

export class Mempool implements MempoolView {
  readonly #txs = new Map<string, MempoolTx>();
  readonly #accounts = new Map<string, AccountQueue>();
  readonly #listeners: (() => void)[] = [];
  readonly #dropListeners: ((hashHex: string, result: DropResult) => void)[] = [];
  #bytes = 0;

  constructor(
    private readonly opts: Pick<MempoolOptions, 'maxTxs' | 'maxBytes' | 'maxPerAccount'> & { chainId: string },
    private readonly modules: { state: StateMachine; verified: VerifiedTxCache },
  ) {}

  get size(): number {
    return this.#txs.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  has(hashHex: string): boolean {
    return this.#txs.has(hashHex);
  }

  get(hashHex: string): MempoolTx | undefined {
    return this.#txs.get(hashHex);
  }

  /** Whether a tx of `bytes` from a client (or a peer, with twice the room) would fit. */
  hasRoom(from: 'api' | 'peer', bytes = 0): boolean {
    const room = from === 'peer' ? 2 : 1;
    return this.#txs.size < this.opts.maxTxs * room && this.#bytes + bytes <= this.opts.maxBytes * room;
  }

  onTxsAvailable(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Called for each tx that leaves the pool without being committed, with the rule it broke. */
  onDropped(listener: (hashHex: string, result: DropResult) => void): void {
    this.#dropListeners.push(listener);
  }

  #drop(entry: MempoolTx, result: DropResult): void {
    this.#remove(entry);
    for (const l of this.#dropListeners) l(entry.hashHex, result);
  }

  /**
   * Checks and adds one tx. Throws a MedLedgerError with a code the API reports; a duplicate of
   * a pending tx returns it without error (the same tx sent to two nodes is normal).
   */
  add(bytes: Uint8Array, from: 'api' | 'peer' = 'api', decoded?: DecodedBytes): MempoolTx {
    const hash = decoded?.hash ?? sha256(bytes);
    const hashHex = decoded?.hashHex ?? toHex(hash);
    const pending = this.#txs.get(hashHex);
    if (pending) return pending;
    // Refused before any decoding or signature check: under overload a refusal must be cheap.
    // The limits bound what clients submit; txs from peers, which another node already took in,
    // get twice the room, so that all mempools hold the same txs under load. A node that drops
    // an account's tx n but keeps its n + 1 may propose n + 1, and n can then never commit.
    if (!this.hasRoom(from, bytes.length)) {
      throw new MedLedgerError(NodeErrorCode.MempoolFull, 'mempool is full, retry later');
    }
    const tx = decoded?.tx ?? decodeTx(bytes);
    if (tx.chainId !== this.opts.chainId) {
      throw new MedLedgerError(NodeErrorCode.WrongChain, 'tx is for another chain');
    }
    if (!this.modules.verified.has(hashHex)) {
      if (!verifySignature(tx.from, encodedTxSignBytes(bytes), tx.signature)) {
        throw new MedLedgerError(NodeErrorCode.BadSignature, 'signature does not verify');
      }
      this.modules.verified.add(hashHex);
    }
    const sender = addressHex(tx.from);
    const queue = this.#accounts.get(sender);
    if (queue?.byNonce.has(tx.nonce)) {
      throw new MedLedgerError(NodeErrorCode.BadNonce, `nonce ${tx.nonce} is already pending for this account`);
    }
    if (queue && queue.byNonce.size >= this.opts.maxPerAccount) {
      throw new MedLedgerError(NodeErrorCode.RateLimited, 'too many pending txs for this account');
    }
    // A peer's tx passed the full check on the node whose API took it; here only what commits
    // since then can have changed cheaply (its nonce used by a block that raced the relay). Any
    // other rule it now breaks fails it in the proposer's execution, which evicts it. The full
    // check is a third of a tx's execution cost, paid by every node for every tx (ADR 0008).
    const result = from === 'peer' ? this.modules.state.checkNonce(tx) : this.modules.state.checkTx(tx);
    if (result.code !== TxCode.Ok) throw txResultError(result);
    const entry: MempoolTx = { tx, hash, hashHex, bytes, sender };
    this.#insert(entry);
    return entry;
  }

  #insert(entry: MempoolTx): void {
    const wasEmpty = this.#txs.size === 0;
    this.#txs.set(entry.hashHex, entry);
    this.#bytes += entry.bytes.length;
    let queue = this.#accounts.get(entry.sender);
    if (!queue) this.#accounts.set(entry.sender, (queue = { byNonce: new Map() }));
    queue.byNonce.set(entry.tx.nonce, entry);
    if (wasEmpty) for (const l of this.#listeners) l();
  }

  #remove(entry: MempoolTx): void {
    if (!this.#txs.delete(entry.hashHex)) return;
    this.#bytes -= entry.bytes.length;
    const queue = this.#accounts.get(entry.sender);
    queue?.byNonce.delete(entry.tx.nonce);
    if (queue && queue.byNonce.size === 0) this.#accounts.delete(entry.sender);
  }

  reap(maxTxs: number, maxBytes: number, ready?: (tx: MempoolTx) => boolean): MempoolTx[] {
    const out: MempoolTx[] = [];
    // Each arrival slot of an account is filled with that account's lowest not-yet-taken nonce.
    const sorted = new Map<string, MempoolTx[]>();
    let bytes = 0;
    for (const entry of this.#txs.values()) {
      if (out.length >= maxTxs) break;
      let list = sorted.get(entry.sender);
      if (!list) {
        list = [...this.#accounts.get(entry.sender)!.byNonce.values()].sort((a, b) => a.tx.nonce - b.tx.nonce);
        sorted.set(entry.sender, list);
      }
      const next = list.shift();
      if (!next) continue;
      // A later nonce without this one could never commit: the account waits for the next reap.
      if (ready && !ready(next)) {
        list.length = 0;
        continue;
      }
      if (bytes + next.bytes.length > maxBytes) break;
      bytes += next.bytes.length;
      out.push(next);
    }
    return out;
  }

  /**
   * After a commit: drop the included txs, then re-check each account's lowest pending tx
   * against the new state, and the next one while those fail (a nonce used by the block makes
   * every lower pending nonce stale). Re-checking every pending tx cost as much as a third of
   * a signature verification per tx and per block; a tx that a block made invalid in another
   * way fails when a proposal executes it, and `evict` drops it then.
   */
  update(committedHashes: Iterable<string>): void {
    for (const h of committedHashes) {
      const entry = this.#txs.get(h);
      if (entry) this.#remove(entry);
    }
    for (const queue of [...this.#accounts.values()]) {
      const pending = [...queue.byNonce.values()].sort((a, b) => a.tx.nonce - b.tx.nonce);
      for (const entry of pending) {
        const result = this.modules.state.checkTx(entry.tx);
        if (result.code === TxCode.Ok) break;
        this.#drop(entry, result);
      }
    }
  }

  /** Drops txs that failed when a proposal executed them. */
  evict(failed: Iterable<{ hashHex: string } & DropResult>): void {
    for (const { hashHex, code, log } of failed) {
      const entry = this.#txs.get(hashHex);
      if (entry) this.#drop(entry, { code, log });
    }
  }

  /** Used by the API to tell whether a tx is still waiting. */
  pendingTx(hashHex: string): Tx | undefined {
    return this.#txs.get(hashHex)?.tx;
  }
}
