import { decodeCanonical, encodeCanonical } from './encoding.js';
import { MedLedgerError, TypesErrorCode, shapeError } from './errors.js';
import { assertArray, assertBytes, assertInt, assertString, assertUint } from './validate.js';

export interface Header {
  chainId: string;
  height: number;
  /** The round in which this block was first proposed; `proposer` is proposer(height, round). */
  round: number;
  /** Proposer's clock, ms since the epoch. */
  time: number;
  prevHash: Uint8Array;
  /** Merkle root of the tx hashes. */
  txRoot: Uint8Array;
  /** State commitment after executing the previous block. */
  appHash: Uint8Array;
  validatorsHash: Uint8Array;
  /** Address (20 bytes) of the proposing validator. */
  proposer: Uint8Array;
  lastCommitHash: Uint8Array;
}

export interface CommitSig {
  validator: Uint8Array;
  signature: Uint8Array;
}

/** 2f+1 precommit signatures for one block at (height, round). */
export interface Commit {
  height: number;
  round: number;
  blockHash: Uint8Array;
  signatures: CommitSig[];
}

export interface Block {
  header: Header;
  /** Each tx in its canonical encoding. */
  txs: Uint8Array[];
  /** The commit certificate of the parent block; null at height 1. */
  lastCommit: Commit | null;
}

export const HASH_BYTES = 32;
export const ADDRESS_BYTES = 20;
export const ZERO_HASH = new Uint8Array(HASH_BYTES);
export const MAX_BLOCK_BYTES = 8 * 1024 * 1024;
const MAX_VALIDATORS = 256;

function headerFields(h: Header): unknown[] {
  return [
    h.chainId,
    h.height,
    h.round,
    h.time,
    h.prevHash,
    h.txRoot,
    h.appHash,
    h.validatorsHash,
    h.proposer,
    h.lastCommitHash,
  ];
}

export function encodeHeader(h: Header): Uint8Array {
  return encodeCanonical(headerFields(h));
}

export function encodeCommit(c: Commit): Uint8Array {
  return encodeCanonical(commitFields(c));
}

function commitFields(c: Commit): unknown[] {
  return [c.height, c.round, c.blockHash, c.signatures.map((s) => [s.validator, s.signature])];
}

export function encodeBlock(b: Block): Uint8Array {
  return encodeCanonical([headerFields(b.header), b.txs, b.lastCommit ? commitFields(b.lastCommit) : null]);
}

export function decodeBlock(bytes: Uint8Array): Block {
  if (bytes.length > MAX_BLOCK_BYTES)
    throw new MedLedgerError(TypesErrorCode.TOO_LARGE, `block is ${bytes.length} bytes`);
  const v = decodeCanonical(bytes);
  if (!Array.isArray(v) || v.length !== 3) throw shapeError('block', 'a list of 3 fields');
  const txs = assertArray(v[1], 'block.txs', 100_000).map((t, i) => assertBytes(t, `block.txs[${i}]`));
  return { header: headerFromFields(v[0]), txs, lastCommit: v[2] === null ? null : commitFromFields(v[2]) };
}

export function decodeCommit(bytes: Uint8Array): Commit {
  return commitFromFields(decodeCanonical(bytes));
}

function headerFromFields(v: unknown): Header {
  if (!Array.isArray(v) || v.length !== 10) throw shapeError('header', 'a list of 10 fields');
  return {
    chainId: assertString(v[0], 'header.chainId', 48),
    height: assertInt(v[1], 'header.height', 1, Number.MAX_SAFE_INTEGER),
    round: assertUint(v[2], 'header.round'),
    time: assertUint(v[3], 'header.time'),
    prevHash: assertBytes(v[4], 'header.prevHash', HASH_BYTES),
    txRoot: assertBytes(v[5], 'header.txRoot', HASH_BYTES),
    appHash: assertBytes(v[6], 'header.appHash', HASH_BYTES),
    validatorsHash: assertBytes(v[7], 'header.validatorsHash', HASH_BYTES),
    proposer: assertBytes(v[8], 'header.proposer', ADDRESS_BYTES),
    lastCommitHash: assertBytes(v[9], 'header.lastCommitHash', HASH_BYTES),
  };
}

function commitFromFields(v: unknown): Commit {
  if (!Array.isArray(v) || v.length !== 4) throw shapeError('commit', 'a list of 4 fields');
  const sigs = assertArray(v[3], 'commit.signatures', MAX_VALIDATORS).map((s, i) => {
    if (!Array.isArray(s) || s.length !== 2) throw shapeError(`commit.signatures[${i}]`, 'a pair');
    return {
      validator: assertBytes(s[0], `commit.signatures[${i}].validator`, ADDRESS_BYTES),
      signature: assertBytes(s[1], `commit.signatures[${i}].signature`, 64),
    };
  });
  return {
    height: assertInt(v[0], 'commit.height', 1, Number.MAX_SAFE_INTEGER),
    round: assertUint(v[1], 'commit.round'),
    blockHash: assertBytes(v[2], 'commit.blockHash', HASH_BYTES),
    signatures: sigs,
  };
}
