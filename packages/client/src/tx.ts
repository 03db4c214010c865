import { randomBytes } from 'node:crypto';
import {
  encodeTx,
  MAX_TX_BYTES,
  MedLedgerError,
  toHex,
  TypesErrorCode,
  txSignBytes,
  validatePayload,
  type Tx,
  type TxPayloads,
  type TxType,
  type UnsignedTx,
} from '@medledger/types';
import { sha256 } from '@medledger/crypto';
import { invalidArgument } from './errors.js';
import type { TxSigner } from './interface.js';

const CHAIN_ID_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;

export interface TxFields<T extends TxType = TxType> {
  chainId: string;
  type: T;
  nonce: number;
  payload: TxPayloads[T];
}

export interface SignedTx<T extends TxType = TxType> {
  tx: Tx<T>;
  /** The canonical encoding: what `POST /txs` takes (as hex) and what is hashed. */
  bytes: Uint8Array;
  /** Hex sha256 of `bytes`: the id the node reports and `GET /txs/:hash` takes. */
  hash: string;
}

/**
 * Builds, checks and signs a tx. Everything the node would reject for its shape is rejected
 * here first, so a bad tx fails before it is sent.
 */
export function createSignedTx<T extends TxType>(signer: TxSigner, fields: TxFields<T>): SignedTx<T> {
  const { chainId, type, nonce, payload } = fields;
  if (typeof chainId !== 'string' || !CHAIN_ID_RE.test(chainId)) {
    throw invalidArgument(`chainId: expected a string matching ${CHAIN_ID_RE.source}`, { field: 'chainId' });
  }
  if (!Number.isSafeInteger(nonce) || nonce < 0) {
    throw invalidArgument('nonce: expected a non-negative safe integer', { field: 'nonce' });
  }
  validatePayload(type, payload);
  const unsigned: UnsignedTx<T> = { chainId, type, from: signer.publicKey, nonce, payload };
  const tx: Tx<T> = { ...unsigned, signature: signer.sign(txSignBytes(unsigned)) };
  const bytes = encodeTx(tx);
  if (bytes.length > MAX_TX_BYTES) {
    throw new MedLedgerError(TypesErrorCode.TOO_LARGE, `tx is ${bytes.length} bytes, limit ${MAX_TX_BYTES}`);
  }
  return { tx, bytes, hash: toHex(sha256(bytes)) };
}

/** A fresh on-chain id: 16 random bytes as 32 hex characters, so the id says nothing about whom it names. */
export function randomId(): string {
  return randomBytes(16).toString('hex');
}
