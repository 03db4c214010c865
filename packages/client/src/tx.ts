import { randomBytes } from 'node:crypto';
import {
  MAX_TX_BYTES,
  MedLedgerError,
  TypesErrorCode,
  validatePayload,
  type TxPayloads,
  type TxType,
} from '@medledger/types';
import { signTx, type SignedTx } from '@medledger/crypto';
import { invalidArgument } from './errors.js';
import type { TxSigner } from './interface.js';

const CHAIN_ID_RE = /^[a-z0-9][a-z0-9-]{0,47}$/;

export interface TxFields<T extends TxType = TxType> {
  chainId: string;
  type: T;
  nonce: number;
  payload: TxPayloads[T];
}

export type { SignedTx };

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
  const signed = signTx<T>(signer, { chainId, type, nonce, payload });
  if (signed.bytes.length > MAX_TX_BYTES) {
    throw new MedLedgerError(TypesErrorCode.TOO_LARGE, `tx is ${signed.bytes.length} bytes, limit ${MAX_TX_BYTES}`);
  }
  return signed;
}

/** A fresh on-chain id: 16 random bytes as 32 hex characters, so the id says nothing about whom it names. */
export function randomId(): string {
  return randomBytes(16).toString('hex');
}
