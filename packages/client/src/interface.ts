import type {
  AccessEventView,
  ConsentView,
  EvidenceView,
  OrgView,
  PatientView,
  ProposalView,
  RecordQuery,
  RecordView,
  TxType,
} from '@medledger/types';

/**
 * Response bodies of the node's HTTP API (docs/API.md), as the client returns them: byte fields
 * are lowercase hex, times are ms since the epoch.
 */

/** What signs a tx: `Signer` from @medledger/crypto fits; so would a key held elsewhere. */
export interface TxSigner {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

export interface HealthResponse {
  ok: boolean;
}

/** A tx as the API shows it: bytes in hex. */
export interface TxJson {
  hash: string;
  chainId: string;
  type: TxType;
  from: string;
  nonce: number;
  payload: Record<string, unknown>;
  signature: string;
}

export interface BlockHeaderJson {
  height: number;
  hash: string;
  chainId: string;
  round: number;
  time: number;
  prevHash: string;
  txRoot: string;
  appHash: string;
  validatorsHash: string;
  proposer: string;
  lastCommitHash: string;
}

export interface CommitJson {
  height: number;
  round: number;
  blockHash: string;
  signatures: { validator: string; signature: string }[];
}

export interface BlockResponse {
  header: BlockHeaderJson;
  txs: TxJson[];
  lastCommit: CommitJson | null;
}

/** `POST /txs` answers `{hash}`; with `wait=commit` also where and how the tx committed. */
export interface SubmitResult {
  hash: string;
  height?: number;
  index?: number;
  code?: number;
  log?: string;
}

/** One tx of `POST /txs/batch`: in the mempool, or refused with the code `POST /txs` would answer. */
export type BatchTxResult =
  { hash: string; accepted: true } | { hash: string; accepted: false; error: { code: string; message: string } };

/** `POST /txs/batch` answers one result per tx, in the order the txs were sent. */
export interface SubmitBatchResult {
  results: BatchTxResult[];
}

/** A committed tx's result: `code` 0 is success. */
export interface TxResultJson {
  hash: string;
  height: number;
  index: number;
  code: number;
  log: string;
}

export interface TxResponse extends TxResultJson {
  tx: TxJson;
}

export interface AccountResponse {
  address: string;
  nonce: number;
}

export type PatientJson = PatientView;

export interface PatientResponse {
  patient: PatientJson;
}

export type RecordJson = RecordView;

export interface RecordResponse {
  record: RecordJson;
}

export type RecordsQuery = RecordQuery;

export interface RecordsResponse {
  records: RecordJson[];
  /** Cursor of the next page; null on the last page. */
  next: string | null;
}

export type ConsentJson = ConsentView;

export interface ConsentsResponse {
  consents: ConsentJson[];
}

/** A page of a list: `limit` (1–500, default 50) and the `next` of the previous page. */
export interface PageQuery {
  limit?: number;
  cursor?: string;
}

export type AuditQuery = PageQuery;

export type AccessEventJson = AccessEventView;

export interface AuditResponse {
  events: AccessEventJson[];
  next: string | null;
}

export interface ValidatorJson {
  address: string;
  pubKey: string;
  org: string;
  name: string;
  /** Activity as the answering node saw it (its consensus driver). */
  lastProposedHeight?: number;
  lastSignedHeight?: number;
  missedBlocks?: number;
  missedProposals?: number;
}

export interface MemberJson extends OrgJson {
  /** The validators this organisation runs in the set of the next height. */
  validators: { address: string; name: string }[];
}

export interface MembersResponse {
  height: number;
  members: MemberJson[];
}

export type ProposalJson = ProposalView;

export interface ProposalsResponse {
  proposals: ProposalJson[];
}

export interface ValidatorsResponse {
  height: number;
  validators: ValidatorJson[];
}

export type OrgJson = OrgView;

export interface OrgsResponse {
  orgs: OrgJson[];
}

export type EvidenceJson = EvidenceView;

export interface EvidenceResponse {
  evidence: EvidenceJson[];
  /** Cursor of the next page; null on the last. */
  next: string | null;
}
