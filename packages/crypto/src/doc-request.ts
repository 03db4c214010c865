import { randomBytes } from 'node:crypto';
import {
  docRequestSignBytes,
  docUploadSignBytes,
  encodeDocRequest,
  type DocRequest,
  type DocUploadFields,
} from '@medledger/types';
import { verifySignature, type Signer } from './ed25519.js';

/** Signs a document request (ADR 0006) with an organisation's org key; fills a fresh nonce. */
export function signDocRequest(
  signer: Pick<Signer, 'publicKey' | 'sign'>,
  fields: Omit<DocRequest, 'from' | 'signature' | 'nonce'> & { nonce?: Uint8Array },
): { request: DocRequest; bytes: Uint8Array } {
  const unsigned = { ...fields, nonce: fields.nonce ?? new Uint8Array(randomBytes(16)), from: signer.publicKey };
  const request: DocRequest = { ...unsigned, signature: signer.sign(docRequestSignBytes(unsigned)) };
  return { request, bytes: encodeDocRequest(request) };
}

/** False (never throws) when the signature does not verify against the request's `from`. */
export function verifyDocRequest(request: DocRequest): boolean {
  return verifySignature(request.from, docRequestSignBytes(request), request.signature);
}

export function signDocUpload(signer: Pick<Signer, 'publicKey' | 'sign'>, fields: Omit<DocUploadFields, 'from'>) {
  const body: DocUploadFields = { ...fields, from: signer.publicKey };
  return { ...body, signature: signer.sign(docUploadSignBytes(body)) };
}

export function verifyDocUpload(fields: DocUploadFields, signature: Uint8Array): boolean {
  return verifySignature(fields.from, docUploadSignBytes(fields), signature);
}
