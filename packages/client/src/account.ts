import { MedLedgerError, toHex, TxType, validatePayload, type TxPayloads } from '@medledger/types';
import { addressHex } from '@medledger/crypto';
import { ClientErrorCode, isDefiniteRejection } from './errors.js';
import type { AccountResponse, SubmitResult, TxResponse, TxSigner } from './interface.js';
import type { CallOptions, SubmitOptions, WaitOptions } from './options.js';
import {
  createAccessLogPayload,
  createConsentGrantPayload,
  createConsentRevokePayload,
  createPatientClaimPayload,
  createPatientRegisterPayload,
  createRecordAnchorPayload,
  type AccessLogInput,
  type ConsentGrantInput,
  type PatientRegisterInput,
  type RecordAnchorInput,
} from './payloads.js';
import type { SealedRecord } from './documents.js';
import { createSignedTx } from './tx.js';

/** The part of MedLedgerClient an Account needs (narrow, so tests and other transports fit). */
export interface AccountClient {
  status(opts?: CallOptions): Promise<{ chainId: string }>;
  account(address: string, opts?: CallOptions): Promise<AccountResponse>;
  submitTx(bytes: Uint8Array, opts?: SubmitOptions): Promise<SubmitResult>;
  waitForTx(hash: string, opts?: WaitOptions): Promise<TxResponse>;
}

export interface AccountOptions {
  signer: TxSigner;
  client: AccountClient;
  chainId: string;
}

export interface SendOptions {
  /** 'commit': resolve once the tx is committed (TX_FAILED if it committed with a non-zero code). */
  wait?: 'commit';
  signal?: AbortSignal;
  /** How long to wait for the commit. */
  timeoutMs?: number;
}

export interface SendResult {
  hash: string;
  nonce: number;
  /** Set once committed (`wait: 'commit'`). */
  height?: number;
  index?: number;
  code?: number;
  log?: string;
}

/**
 * One signing account against one chain. It owns the nonce sequence: the first nonce is the
 * committed `GET /accounts/:address` nonce + 1, later ones count up locally.
 *
 * Concurrent `send` calls are safe: each call joins a FIFO queue synchronously, so nonces follow
 * call order, and a tx goes to the node only once the previous one was admitted to the mempool,
 * so the node sees one account's txs in nonce order (two requests in flight could otherwise
 * overtake each other). Waiting for the commit happens outside the queue, so a burst of txs can
 * share one block.
 */
export class Account {
  readonly signer: TxSigner;
  readonly client: AccountClient;
  readonly chainId: string;
  readonly address: string;
  /** Next nonce to use; undefined until read from the node (or after BAD_NONCE, to re-read it). */
  #next: number | undefined;
  /** Lowest nonce still worth trying after a BAD_NONCE: the node may hold pending ones we sent. */
  #floor = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(opts: AccountOptions) {
    this.signer = opts.signer;
    this.client = opts.client;
    this.chainId = opts.chainId;
    this.address = addressHex(opts.signer.publicKey);
  }

  /** An Account whose chain id is read from the node's `/status`. */
  static async connect(signer: TxSigner, client: AccountClient, opts?: CallOptions): Promise<Account> {
    const { chainId } = await client.status(opts);
    return new Account({ signer, client, chainId });
  }

  get publicKey(): string {
    return toHex(this.signer.publicKey);
  }

  /** Signs and submits a tx of `type`. The payload is validated before the call returns its promise. */
  send<T extends TxType>(type: T, payload: TxPayloads[T], opts: SendOptions = {}): Promise<SendResult> {
    try {
      validatePayload(type, payload);
    } catch (err) {
      return Promise.reject(err);
    }
    // A copy: the caller may reuse its object while this tx waits its turn to be signed.
    const own = structuredClone(payload);
    const admitted = this.#queue.then(() => this.#admit(type, own, opts.signal));
    // The queue goes on whatever happened to this tx; its error belongs to this caller only.
    this.#queue = admitted.catch(() => undefined);
    return opts.wait === 'commit' ? admitted.then((r) => this.#commit(r, opts)) : admitted;
  }

  async #admit<T extends TxType>(type: T, payload: TxPayloads[T], signal?: AbortSignal): Promise<SendResult> {
    if (this.#next === undefined) {
      const { nonce } = await this.client.account(this.address, { signal });
      // The node reports the committed nonce only; never go back below one already refused.
      this.#next = Math.max(nonce + 1, this.#floor);
    }
    const nonce = this.#next;
    const signed = createSignedTx(this.signer, { chainId: this.chainId, type, nonce, payload });
    if (signal?.aborted) throw new MedLedgerError(ClientErrorCode.ABORTED, 'send aborted before submission');
    try {
      await this.client.submitTx(signed.bytes, { signal });
    } catch (err) {
      if (err instanceof MedLedgerError && err.code === 'BAD_NONCE') {
        // Someone else used this account, or our count drifted: re-read it for the next tx.
        // Nonces may skip (the node accepts any nonce above the last), so moving up is safe.
        this.#next = undefined;
        this.#floor = nonce + 1;
      } else if (!isDefiniteRejection(err)) {
        // The tx may have got in (timeout, 5xx): never reuse a nonce that might be taken.
        this.#next = nonce + 1;
      }
      throw err;
    }
    this.#next = nonce + 1;
    return { hash: signed.hash, nonce };
  }

  async #commit(sent: SendResult, opts: SendOptions): Promise<SendResult> {
    const r = await this.client.waitForTx(sent.hash, { signal: opts.signal, timeoutMs: opts.timeoutMs });
    return { ...sent, height: r.height, index: r.index, code: r.code, log: r.log };
  }

  /** Registers a patient (a fresh random id unless one is given). */
  async registerPatient(
    input: PatientRegisterInput = {},
    opts?: SendOptions,
  ): Promise<SendResult & { patient: string }> {
    const payload = createPatientRegisterPayload(input);
    return { patient: payload.patient, ...(await this.send(TxType.PatientRegister, payload, opts)) };
  }

  /**
   * Hands a patient this organisation registered without an account over to the patient's own
   * key: `account` (the patient's signer) signs the claim, this organisation sends it.
   */
  async claimPatient(
    input: { patient: string; account: Pick<TxSigner, 'publicKey' | 'sign'> },
    opts?: SendOptions,
  ): Promise<SendResult> {
    return this.send(TxType.PatientClaim, createPatientClaimPayload({ chainId: this.chainId, ...input }), opts);
  }

  /**
   * Anchors a sealed document (`sealRecord`): its record id, and the sha256 and size of its
   * ciphertext. Never of the plaintext: a hash of a document with few possible values (a coded
   * lab result) would let anyone who reads the chain test guesses (ADR 0006). `DocumentClient`
   * seals, anchors and uploads in one call.
   */
  async anchorRecord(
    input: Omit<RecordAnchorInput, 'contentHash' | 'size'> & { record: string; sealed: SealedRecord },
    opts?: SendOptions,
  ): Promise<SendResult & { record: string; contentHash: string; size: number }> {
    const { sealed, ...rest } = input;
    const payload = createRecordAnchorPayload({
      ...rest,
      contentHash: sealed.contentHash,
      size: sealed.ciphertext.length,
    });
    const sent = await this.send(TxType.RecordAnchor, payload, opts);
    return { record: payload.record, contentHash: toHex(payload.contentHash), size: payload.size, ...sent };
  }

  async grantConsent(input: ConsentGrantInput, opts?: SendOptions): Promise<SendResult & { consent: string }> {
    const payload = createConsentGrantPayload(input);
    return { consent: payload.consent, ...(await this.send(TxType.ConsentGrant, payload, opts)) };
  }

  async revokeConsent(consent: string, opts?: SendOptions): Promise<SendResult & { consent: string }> {
    const payload = createConsentRevokePayload({ consent });
    return { consent, ...(await this.send(TxType.ConsentRevoke, payload, opts)) };
  }

  logAccess(input: AccessLogInput, opts?: SendOptions): Promise<SendResult> {
    return this.send(TxType.AccessLog, createAccessLogPayload(input), opts);
  }
}
