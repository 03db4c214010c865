import { verifySignature } from '@medledger/crypto';
import {
  bytesEqual,
  compareBytes,
  decodeVote,
  toHex,
  voteSignBytes,
  type EvidencePayload,
  type EvidenceView,
  type Vote,
} from '@medledger/types';
import { TxCode } from '../interface.js';
import { fail, ok, type TxHandler } from '../context.js';
import { encodeEntry, type EvidenceEntry } from '../entities.js';
import { evidenceKey } from '../keys.js';

/**
 * Evidence of equivocation: two votes signed by one validator for the same height, round and
 * type but different blocks. Stored once per (validator, height, round, type); the stored form
 * keeps the two votes in byte order, so it is the same whoever submitted it and in which order.
 */
export const submitEvidence: TxHandler<'evidence.submit'> = (ctx, p: EvidencePayload) => {
  if (!ctx.signer) return fail(TxCode.Unauthorized, 'evidence is submitted with a member key');
  let a: Vote;
  let b: Vote;
  try {
    a = decodeVote(p.voteA);
    b = decodeVote(p.voteB);
  } catch {
    return fail(TxCode.Invalid, 'a vote does not decode');
  }
  if (!bytesEqual(a.validator, b.validator) || a.height !== b.height || a.round !== b.round || a.type !== b.type) {
    return fail(TxCode.Invalid, 'votes are not from one validator at one height, round and type');
  }
  if (sameTarget(a.blockHash, b.blockHash)) return fail(TxCode.Invalid, 'votes do not conflict');
  const validator = ctx.validatorsAt(a.height).find((v) => bytesEqual(v.address, a.validator));
  if (!validator) return fail(TxCode.Invalid, 'not a validator at that height');
  for (const vote of [a, b]) {
    if (!verifySignature(validator.pubKey, voteSignBytes(ctx.chainId, vote), vote.signature)) {
      return fail(TxCode.Invalid, 'vote signature does not verify');
    }
  }
  const key = evidenceKey(a.validator, a.height, a.round, a.type);
  if (ctx.store.has(key)) return fail(TxCode.AlreadyExists, 'evidence already committed');
  const entry: EvidenceEntry = {
    validator: a.validator,
    height: a.height,
    round: a.round,
    type: a.type,
    votes: [p.voteA, p.voteB].sort(compareBytes),
    committedAt: ctx.time,
    committedHeight: ctx.height,
  };
  ctx.store.put(key, encodeEntry(entry));
  return ok();
};

function sameTarget(x: Uint8Array | null, y: Uint8Array | null): boolean {
  if (x === null || y === null) return x === y;
  return bytesEqual(x, y);
}

export function evidenceView(e: EvidenceEntry): EvidenceView {
  return { validator: toHex(e.validator), height: e.height, round: e.round, type: e.type, committedAt: e.committedAt };
}
