import { encodeTx, toHex, txSignBytes, type Tx, type TxType, type UnsignedTx } from '@medledger/types';
import type { Signer } from './ed25519.js';
import { sha256 } from './hash.js';

export interface SignedTx<T extends TxType = TxType> {
  tx: Tx<T>;
  /** Canonical bytes, as submitted and as hashed. */
  bytes: Uint8Array;
  /** Hex sha256 of `bytes`: the tx id. */
  hash: string;
}

/** Signs a tx with `signer` as its `from`. The one place that turns an unsigned tx into bytes. */
export function signTx<T extends TxType>(
  signer: Pick<Signer, 'publicKey' | 'sign'>,
  unsigned: Omit<UnsignedTx<T>, 'from'>,
): SignedTx<T> {
  const body = { ...unsigned, from: signer.publicKey } as UnsignedTx<T>;
  const tx = { ...body, signature: signer.sign(txSignBytes(body)) } as Tx<T>;
  const bytes = encodeTx(tx);
  return { tx, bytes, hash: toHex(sha256(bytes)) };
}
