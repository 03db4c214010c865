import { patientClaimSignBytes } from '@medledger/types';
import { verifySignature, type Signer } from './ed25519.js';

/** The patient's account signs that it takes over `patient` on `chainId` (a `patient.claim`). */
export function signPatientClaim(
  account: Pick<Signer, 'publicKey' | 'sign'>,
  chainId: string,
  patient: string,
): { account: Uint8Array; proof: Uint8Array } {
  return { account: account.publicKey, proof: account.sign(patientClaimSignBytes(chainId, patient)) };
}

/** False (never throws) when `proof` is not `account`'s signature of the claim. */
export function verifyPatientClaim(chainId: string, patient: string, account: Uint8Array, proof: Uint8Array): boolean {
  return verifySignature(account, patientClaimSignBytes(chainId, patient), proof);
}
