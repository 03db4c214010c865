import type {
  AccessEventView,
  ConsentView,
  EvidenceView,
  Genesis,
  Header,
  OrgView,
  Page,
  PatientView,
  RecordQuery,
  RecordView,
  Tx,
} from '@medledger/types';
import type { WriteBatch } from '@medledger/db';
import type { ErasureView } from './modules/erasure.js';
import type { ProposalView } from './modules/governance.js';

/**
 * The state machine contract (a narrow ABCI): the node checks txs against committed state,
 * executes a block at the block's time, and writes the returned effects in the block's batch.
 * Nothing here reads the clock, randomness or the environment.
 */
export const TxCode = {
  Ok: 0,
  BadNonce: 1,
  Unauthorized: 2,
  NotFound: 3,
  AlreadyExists: 4,
  Invalid: 5,
  Expired: 6,
  WrongChain: 7,
} as const;
export type TxCode = (typeof TxCode)[keyof typeof TxCode];

export interface TxResult {
  code: TxCode;
  /** A short reason; never patient data. */
  log: string;
}

export interface DecodedTx {
  tx: Tx;
  hash: Uint8Array;
}

export interface Validator {
  /** 20-byte address of the node key. */
  address: Uint8Array;
  pubKey: Uint8Array;
  org: string;
  name: string;
}

export interface BlockExecution {
  /** State commitment after this block; goes into the next header's appHash. */
  appHash: Uint8Array;
  results: TxResult[];
}

export interface StateMachine {
  /** Height of the last executed block (0 = genesis state). */
  readonly height: number;
  /** App hash after the last executed block, or of the genesis state. */
  readonly appHash: Uint8Array;
  /** Writes genesis state into `batch` when the store is empty; a no-op otherwise. */
  initGenesis(batch: WriteBatch): void;
  /**
   * Checks a signature-verified tx against committed state plus `pendingNonce` (the highest
   * nonce this sender already has in the mempool), without changing anything.
   */
  checkTx(tx: Tx, pendingNonce?: number): TxResult;
  /** The cheap part of `checkTx`: chain id and nonce against committed state. */
  checkNonce(tx: Tx): TxResult;
  /** Runs every tx of a block in order at `header.time` and adds all state writes to `batch`. */
  executeBlock(header: Header, txs: readonly DecodedTx[], batch: WriteBatch): BlockExecution;
  /** Called after the batch of `height` is on disk. */
  commit(height: number, appHash: Uint8Array): void;
  /** Validators in force at `height` (changes decided at h take effect at h + 2), sorted by address. */
  validatorsAt(height: number): Validator[];
  readonly query: StateQueries;
}

// The read views are shapes shared with the client; they live in @medledger/types.
export type { Page, RecordView, PatientView, ConsentView, AccessEventView, EvidenceView, OrgView, RecordQuery };

/** Read-only queries over committed state and the index (async: they may iterate ranges). */
export interface StateQueries {
  account(address: string): Promise<{ nonce: number } | undefined>;
  org(id: string): Promise<OrgView | undefined>;
  orgs(): Promise<OrgView[]>;
  /** The organisation whose org key or node key this public key is. */
  orgOfKey(pubKeyHex: string): Promise<string | undefined>;
  patient(id: string): Promise<PatientView | undefined>;
  record(id: string): Promise<RecordView | undefined>;
  /** Time-ordered; filters combine. Requires at least one of patient, author or type. */
  records(q: RecordQuery): Promise<Page<RecordView>>;
  consent(id: string): Promise<ConsentView | undefined>;
  /** As of block time `now` for the status field. */
  consentsByPatient(patient: string, now: number): Promise<ConsentView[]>;
  consentsByGrantee(org: string, now: number): Promise<ConsentView[]>;
  accessByPatient(patient: string, opts?: { limit?: number; cursor?: string }): Promise<Page<AccessEventView>>;
  accessByAccessor(org: string, opts?: { limit?: number; cursor?: string }): Promise<Page<AccessEventView>>;
  /** By validator, then height, round and type. */
  evidence(opts?: { limit?: number; cursor?: string }): Promise<Page<EvidenceView>>;
  /** The erasure of a record's document, if the patient asked for one (ADR 0006). */
  erasure(record: string): Promise<ErasureView | undefined>;
  /** Whether a committed `access.serve` already served the document request of this sha256 (hex). */
  requestServed(requestHash: string): Promise<boolean>;
  /** Governance proposals, newest first; an open one past its expiry shows as expired. */
  proposals(): Promise<ProposalView[]>;
  proposal(id: string): Promise<ProposalView | undefined>;
  /** Hex node keys of the member organisations: whom the connection gater admits. */
  memberNodeKeys(): Promise<string[]>;
}

export interface GenesisInput {
  genesis: Genesis;
}
