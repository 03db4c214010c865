import type { Tx, TxPayloads, TxType } from '@medledger/types';
import { TxCode, type TxResult, type Validator } from './interface.js';
import type { KeyOwnerEntry } from './entities.js';
import type { StateOverlay } from './overlay.js';

/** Point reads over some view of the state: the block overlay, or committed state for queries. */
export interface StateReader {
  get(key: Uint8Array): Uint8Array | undefined;
}

/** Everything a tx handler may look at. Time and height are the block's: never the wall clock. */
export interface ExecContext {
  readonly store: StateOverlay;
  readonly chainId: string;
  readonly height: number;
  /** Block time, ms since the epoch. */
  readonly time: number;
  readonly txIndex: number;
  readonly txHash: Uint8Array;
  readonly tx: Tx;
  /** The organisation and role of `tx.from` when it is a member key. */
  readonly signer: KeyOwnerEntry | undefined;
  validatorsAt(height: number): Validator[];
}

export type TxHandler<T extends TxType> = (ctx: ExecContext, payload: TxPayloads[T]) => TxResult;

/** Shared and frozen: a block keeps every tx's result until it commits, most of them this one. */
const OK: TxResult = Object.freeze({ code: TxCode.Ok, log: '' });
export const ok = (): TxResult => OK;
export const fail = (code: TxCode, log: string): TxResult => ({ code, log });
