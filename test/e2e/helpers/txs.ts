import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Signer, passphraseFromEnv, readKeyFile, signTx, type SignedTx } from '@medledger/crypto';
import { TxType, toHex, type TxPayloads } from '@medledger/types';
import { postJson } from './harness.js';

export const randomId = () => randomBytes(16).toString('hex');

/** Signs txs with a key file, counting nonces locally (strictly increasing per account). */
export class TestSigner {
  readonly signer: Signer;
  #nonce: number;

  constructor(
    keyFile: string,
    readonly chainId: string,
    firstNonce = 1,
  ) {
    // An encrypted home key opens with the passphrase `init` generated beside it.
    const passphrase = passphraseFromEnv({}, join(dirname(keyFile), 'passphrase'));
    this.signer = new Signer(readKeyFile(keyFile, passphrase).secretKey);
    this.#nonce = firstNonce;
  }

  sign<T extends TxType>(type: T, payload: TxPayloads[T], nonce = this.#nonce++): SignedTx<T> {
    return signTx<T>(this.signer, { chainId: this.chainId, type, nonce, payload });
  }

  registerPatient(id = randomId()) {
    return this.sign(TxType.PatientRegister, { patient: id, account: null, encKey: null });
  }

  anchorRecord(patient: string, record = randomId()) {
    return this.sign(TxType.RecordAnchor, {
      record,
      patient,
      resourceType: 'Observation',
      contentHash: randomBytes(32),
      size: 512,
      previous: null,
    });
  }
}

export interface Submitted {
  status: number;
  body: Record<string, unknown>;
}

export function submitTx(api: string, tx: { bytes: Uint8Array }, wait = true): Promise<Submitted> {
  return postJson(`${api}/txs${wait ? '?wait=commit' : ''}`, { tx: toHex(tx.bytes) });
}
