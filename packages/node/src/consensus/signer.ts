import { existsSync, readFileSync } from 'node:fs';
import {
  MedLedgerError,
  fromHex,
  isRecord,
  proposalSignBytes,
  toHex,
  voteSignBytes,
  type Proposal,
  type Vote,
  type VoteType,
} from '@medledger/types';
import { verifySignature, writeFileDurably, type Signer } from '@medledger/crypto';
import { checkSign, type LastSignState } from '@medledger/consensus';
import { NodeErrorCode } from '../errors.js';

/**
 * The validator's signing key behind the double-sign guard (ADR 0002). Before a proposal or
 * vote leaves the node, the (height, round, step, block hash) it signs is written to a file and
 * fsynced together with its directory; after a crash the node reads it back and refuses to sign
 * anything that conflicts with a step it has passed.
 */
export class GuardedSigner {
  #last: LastSignState | null;

  constructor(
    private readonly chainId: string,
    private readonly signer: Signer,
    private readonly path: string,
  ) {
    this.#last = readLastSignState(path);
  }

  get address(): Uint8Array {
    return this.signer.address;
  }

  get lastSigned(): LastSignState | null {
    return this.#last;
  }

  signProposal(p: Omit<Proposal, 'signature' | 'proposer'>): Proposal {
    const signature = this.#guard(p.height, p.round, 0, p.blockHash, proposalSignBytes(this.chainId, p));
    return { ...p, proposer: this.signer.address, signature };
  }

  signVote(v: { type: VoteType; height: number; round: number; blockHash: Uint8Array | null }): Vote {
    const signature = this.#guard(v.height, v.round, v.type, v.blockHash, voteSignBytes(this.chainId, v));
    return { ...v, validator: this.signer.address, signature };
  }

  #guard(height: number, round: number, step: 0 | 1 | 2, blockHash: Uint8Array | null, bytes: Uint8Array): Uint8Array {
    const decision = checkSign(this.#last, { height, round, step, blockHash });
    if (decision === 'refuse') {
      throw new MedLedgerError(NodeErrorCode.DoubleSign, 'refusing to sign: conflicts with a step already signed', {
        height,
        round,
        step,
      });
    }
    // The same step and block once more (a restart): the stored signature, if it signs exactly
    // these bytes. A proposal's bytes also hold its POL round; other bytes at a signed step
    // would be a second, different message there, which the guard refuses as CometBFT's does.
    if (decision === 'resign') {
      if (verifySignature(this.signer.publicKey, bytes, this.#last!.signature)) return this.#last!.signature;
      throw new MedLedgerError(NodeErrorCode.DoubleSign, 'refusing to sign: other bytes at a step already signed', {
        height,
        round,
        step,
      });
    }
    const signature = this.signer.sign(bytes);
    const next: LastSignState = { height, round, step, blockHash, signature };
    writeLastSignState(this.path, next);
    this.#last = next;
    return signature;
  }
}

function readLastSignState(path: string): LastSignState | null {
  if (!existsSync(path)) return null;
  const raw: unknown = JSON.parse(readFileSync(path, 'utf8'));
  if (!isRecord(raw)) throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${path} is not a last-sign state`);
  return {
    height: Number(raw.height),
    round: Number(raw.round),
    step: Number(raw.step) as 0 | 1 | 2,
    blockHash: raw.blockHash === null ? null : fromHex(String(raw.blockHash)),
    signature: fromHex(String(raw.signature)),
  };
}

/** Durable before it returns (`writeFileDurably`). */
function writeLastSignState(path: string, s: LastSignState): void {
  writeFileDurably(
    path,
    JSON.stringify({
      height: s.height,
      round: s.round,
      step: s.step,
      blockHash: s.blockHash ? toHex(s.blockHash) : null,
      signature: toHex(s.signature),
    }),
  );
}
