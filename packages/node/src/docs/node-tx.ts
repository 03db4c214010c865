import { MedLedgerError, type TxPayloads, type TxType } from '@medledger/types';
import { signTx, type Signer } from '@medledger/crypto';
import type { TxLocation } from '@medledger/db';
import { NodeErrorCode } from '../errors.js';

export interface NodeTxModules {
  signer: Pick<Signer, 'publicKey' | 'sign'>;
  chainId: string;
  /** The committed nonce of the node key's account (0 when unused). */
  committedNonce(): Promise<number>;
  /** Checks the tx into the mempool and relays it to the peers (`/txs/1`); throws MedLedgerError on refusal. */
  submit(bytes: Uint8Array): { hash: string };
  /** Resolves once the tx is committed. */
  waitForCommit(hash: string, timeoutMs: number): Promise<TxLocation>;
}

/**
 * Txs this node signs with its node key (`access.serve`). Submissions are queued so nonces go
 * to the mempool in order; a BAD_NONCE (another writer used the key, e.g. evidence) re-reads
 * the committed nonce and tries once more with a nonce above both.
 */
export class NodeTxSender {
  #next: number | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly m: NodeTxModules) {}

  /** Submits without waiting for the commit (evidence): resolves once the mempool took it. */
  async submit<T extends TxType>(type: T, payload: TxPayloads[T]): Promise<{ hash: string }> {
    const admitted = this.#queue.then(() => this.#admit(type, payload, 0));
    this.#queue = admitted.catch(() => undefined);
    return { hash: (await admitted).hash };
  }

  /** Submits and waits for the commit; resolves with where and how it committed. */
  async send<T extends TxType>(
    type: T,
    payload: TxPayloads[T],
    timeoutMs: number,
  ): Promise<TxLocation & { hash: string }> {
    const admitted = this.#queue.then(() => this.#admit(type, payload, timeoutMs));
    this.#queue = admitted.catch(() => undefined);
    const { hash, committed } = await admitted;
    return { hash, ...(await committed) };
  }

  async #admit<T extends TxType>(
    type: T,
    payload: TxPayloads[T],
    timeoutMs: number,
  ): Promise<{ hash: string; committed: Promise<TxLocation> }> {
    for (let attempt = 0; ; attempt++) {
      if (this.#next === undefined) this.#next = (await this.m.committedNonce()) + 1;
      const nonce = this.#next;
      const { bytes, hash } = signTx(this.m.signer, { chainId: this.m.chainId, type, nonce, payload });
      try {
        this.m.submit(bytes);
      } catch (err) {
        if (err instanceof MedLedgerError && err.code === NodeErrorCode.BadNonce && attempt === 0) {
          const committed = await this.m.committedNonce();
          this.#next = Math.max(committed, nonce) + 1;
          continue;
        }
        throw err;
      }
      this.#next = nonce + 1;
      if (timeoutMs <= 0) return { hash, committed: Promise.resolve(undefined as never) };
      // Registered in the same turn as the submission: the commit cannot slip in between.
      const committed = this.m.waitForCommit(hash, timeoutMs);
      committed.catch(() => undefined);
      return { hash, committed };
    }
  }
}
