import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Signer, sha256 } from '@medledger/crypto';
import { createDatabase, TEST_DATABASE_OPTIONS, type LevelDatabase } from '@medledger/db';
import {
  encodeTx,
  encodeVote,
  toHex,
  txSignBytes,
  voteSignBytes,
  ZERO_HASH,
  type Genesis,
  type Header,
  type Tx,
  type TxPayloads,
  type TxType,
  type Vote,
  type VoteType,
} from '@medledger/types';
import { createStateMachine, type BlockExecution, type DecodedTx, type MedLedgerStateMachine } from '../src/index.js';

export const CHAIN_ID = 'medledger-test';
export const GENESIS_TIME = 1_700_000_000_000;

/** Deterministic keys from a seed byte: tests repeat exactly. */
export function signerFrom(seed: number): Signer {
  const secret = new Uint8Array(32);
  secret[0] = seed & 0xff;
  secret[1] = (seed >> 8) & 0xff;
  secret[31] = 0x5a;
  return new Signer(secret);
}

export interface TestOrg {
  id: string;
  org: Signer;
  node: Signer;
}

export const hospital: TestOrg = { id: 'hospital-a', org: signerFrom(1), node: signerFrom(2) };
export const lab: TestOrg = { id: 'lab-b', org: signerFrom(3), node: signerFrom(4) };
export const insurer: TestOrg = { id: 'insurer-c', org: signerFrom(5), node: signerFrom(6) };
/** A validator whose key is not in its organisation's nodeKeys (still counts as its node key). */
export const extraValidator = signerFrom(7);

export function testGenesis(chainId = CHAIN_ID): Genesis {
  const org = (o: TestOrg, name: string, kind: Genesis['orgs'][number]['kind']) => ({
    id: o.id,
    name,
    kind,
    orgKey: toHex(o.org.publicKey),
    encKey: '',
    nodeKeys: [toHex(o.node.publicKey)],
  });
  return {
    chainId,
    genesisTime: GENESIS_TIME,
    params: {
      timeoutProposeMs: 1000,
      timeoutPrevoteMs: 500,
      timeoutPrecommitMs: 500,
      timeoutDeltaMs: 500,
      timeoutCapMs: 10_000,
      emptyBlockIntervalMs: 5000,
      minBlockIntervalMs: 200,
      createEmptyBlocks: true,
      maxBlockTxs: 5000,
      maxBlockBytes: 4 * 1024 * 1024,
      maxClockDriftMs: 10_000,
    },
    orgs: [org(hospital, 'Hospital A', 'hospital'), org(lab, 'Lab B', 'lab'), org(insurer, 'Insurer C', 'insurer')],
    validators: [
      { pubKey: toHex(hospital.node.publicKey), org: hospital.id, name: 'a-0' },
      { pubKey: toHex(lab.node.publicKey), org: lab.id, name: 'b-0' },
      { pubKey: toHex(insurer.node.publicKey), org: insurer.id, name: 'c-0' },
      { pubKey: toHex(extraValidator.publicKey), org: hospital.id, name: 'a-1' },
    ],
  };
}

/** A 32-hex id from a number: readable in failures, unique per test. */
export const id = (n: number): string => n.toString(16).padStart(32, '0');

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), 'medledger-state-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function header(height: number, time: number, chainId = CHAIN_ID): Header {
  return {
    chainId,
    height,
    round: 0,
    time,
    prevHash: ZERO_HASH,
    txRoot: ZERO_HASH,
    appHash: ZERO_HASH,
    validatorsHash: ZERO_HASH,
    proposer: new Uint8Array(20),
    lastCommitHash: ZERO_HASH,
  };
}

export function signTx<T extends TxType>(
  signer: Signer,
  type: T,
  payload: TxPayloads[T],
  nonce: number,
  chainId = CHAIN_ID,
): DecodedTx {
  const unsigned = { chainId, type, from: signer.publicKey, nonce, payload };
  const tx: Tx = { ...unsigned, signature: signer.sign(txSignBytes(unsigned)) } as Tx;
  return { tx, hash: sha256(encodeTx(tx)) };
}

export function signVote(signer: Signer, v: Omit<Vote, 'validator' | 'signature'>, chainId = CHAIN_ID): Uint8Array {
  const vote: Vote = { ...v, validator: signer.address, signature: signer.sign(voteSignBytes(chainId, v)) };
  return encodeVote(vote);
}

export const voteAt = (height: number, blockHashByte: number | null, type: VoteType = 2, round = 0) => ({
  type,
  height,
  round,
  blockHash: blockHashByte === null ? null : new Uint8Array(32).fill(blockHashByte),
});

/**
 * A node in miniature: a real LevelDB in a temp dir, the state machine, and a helper that
 * executes, writes and commits a block the way the node does.
 */
export class Chain {
  db!: LevelDatabase;
  state!: MedLedgerStateMachine;
  time = GENESIS_TIME;
  readonly #nonces = new Map<string, number>();
  readonly #dir: { path: string; remove(): void };
  readonly #genesis: Genesis;

  private constructor(genesis: Genesis, dir?: { path: string; remove(): void }) {
    this.#genesis = genesis;
    this.#dir = dir ?? tempDir();
  }

  static async create(genesis = testGenesis()): Promise<Chain> {
    const chain = new Chain(genesis);
    await chain.open();
    return chain;
  }

  async open(): Promise<void> {
    this.db = createDatabase({ ...TEST_DATABASE_OPTIONS, path: this.#dir.path });
    await this.db.open();
    this.state = createStateMachine({ genesis: this.#genesis }, { db: this.db });
    const batch = this.db.createBatch();
    this.state.initGenesis(batch);
    if (batch.length > 0) await this.db.write(batch, { sync: true });
  }

  /** Close and reopen the same database: a node restart. */
  async restart(): Promise<void> {
    await this.db.close();
    await this.open();
  }

  async destroy(): Promise<void> {
    if (this.db.isOpen) await this.db.close();
    this.#dir.remove();
  }

  /** A signed tx with the next nonce of its signer (nonces start at 1). */
  tx<T extends TxType>(signer: Signer, type: T, payload: TxPayloads[T]): DecodedTx {
    const key = toHex(signer.publicKey);
    const nonce = (this.#nonces.get(key) ?? 0) + 1;
    this.#nonces.set(key, nonce);
    return signTx(signer, type, payload, nonce);
  }

  /** Executes, writes and commits one block `stepMs` after the previous one. */
  async block(txs: DecodedTx[], stepMs = 1000): Promise<BlockExecution> {
    this.time += stepMs;
    const height = this.state.height + 1;
    const batch = this.db.createBatch();
    const execution = this.state.executeBlock(header(height, this.time), txs, batch);
    await this.db.write(batch, { sync: false });
    this.state.commit(height, execution.appHash);
    return execution;
  }

  /** One tx in its own block; returns its result code. */
  async run<T extends TxType>(signer: Signer, type: T, payload: TxPayloads[T], stepMs = 1000): Promise<number> {
    const { results } = await this.block([this.tx(signer, type, payload)], stepMs);
    return results[0]!.code;
  }
}

export const register = (patient: string, account: Uint8Array | null = null) => ({
  patient,
  account,
  encKey: null,
});

export const anchor = (
  record: string,
  patient: string,
  resourceType = 'Observation',
  previous: string | null = null,
  contentByte = 1,
) => ({
  record,
  patient,
  resourceType,
  contentHash: new Uint8Array(32).fill(contentByte),
  size: 1024,
  previous,
});

export const grant = (
  consent: string,
  patient: string,
  grantee: string,
  scope: { types?: string[]; records?: string[] } = { types: ['Observation'] },
  purpose = 'treatment',
  expires = 0,
) => ({
  consent,
  patient,
  grantee,
  scope: { types: scope.types ?? [], records: scope.records ?? [] },
  purpose,
  expires,
});

export const access = (
  record: string,
  consent: string | null,
  purpose = 'treatment',
  breakGlass: string | null = null,
) => ({
  record,
  purpose,
  consent,
  breakGlass,
});
