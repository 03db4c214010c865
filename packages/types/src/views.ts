/**
 * The JSON shapes of the HTTP API that the node and the client share: the read views it serves,
 * the queries and bodies it takes (hex strings, ms times). One definition, so the node that
 * produces or parses them and the client that reads or sends them never drift.
 */
export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, null at the end. */
  next: string | null;
}

/** `GET /status`: the node's view of the chain and of itself. */
export interface StatusView {
  chainId: string;
  /** The node's libp2p peer id. */
  nodeId: string;
  /** Hex address of the node key: what `header.proposer` holds for this node. */
  validatorAddress: string;
  /** The last committed height (0 before the first block). */
  height: number;
  /** Null at height 0. */
  latestBlockHash: string | null;
  /** Block time (ms) of the latest block; null at height 0. */
  latestBlockTime: number | null;
  validator: boolean;
  peers: number;
  catchingUp: boolean;
  round: number;
  mempoolSize: number;
}

export interface RecordView {
  id: string;
  patient: string;
  author: string;
  resourceType: string;
  contentHash: string;
  size: number;
  version: number;
  previous: string | null;
  createdAt: number;
  height: number;
}

export interface PatientView {
  id: string;
  /** Address of the patient's own account, or null while custodial. */
  account: string | null;
  custodian: string | null;
  encKey: string | null;
  registeredAt: number;
}

export interface ConsentView {
  id: string;
  patient: string;
  grantee: string;
  scope: { types: string[]; records: string[] };
  purpose: string;
  expires: number;
  grantedAt: number;
  revokedAt: number | null;
  status: 'active' | 'revoked' | 'expired';
}

export interface AccessEventView {
  record: string;
  patient: string;
  accessor: string;
  purpose: string;
  consent: string | null;
  breakGlass: string | null;
  time: number;
  height: number;
  tx: string;
}

/** Committed equivocation evidence (ADR 0002); `type` 1 prevote, 2 precommit. */
export interface EvidenceView {
  validator: string;
  height: number;
  round: number;
  type: number;
  committedAt: number;
}

export interface OrgView {
  id: string;
  name: string;
  kind: string;
  orgKey: string;
  encKey: string;
  nodeKeys: string[];
}

export interface RecordQuery {
  patient?: string;
  author?: string;
  type?: string;
  /** createdAt >= since (block time, ms). */
  since?: number;
  /** createdAt <= until (block time, ms). */
  until?: number;
  /** Default 50; larger values are cut to 500. */
  limit?: number;
  /** `next` of the previous page of the same query. */
  cursor?: string;
}

/** `PUT /records/:id/document` body (ADR 0006), byte fields as hex. */
export interface DocumentUploadBody {
  ciphertext: string;
  authorKey: string;
  patientKey: string | null;
  time: number;
  from: string;
  signature: string;
}

/** A governance proposal and its votes (ADR 0007). */
export interface ProposalView {
  id: string;
  proposer: string;
  action: Record<string, unknown> & { type: string };
  createdAt: number;
  height: number;
  expires: number;
  status: 'open' | 'passed' | 'rejected' | 'expired' | 'failed';
  yes: number;
  no: number;
  validators: number;
  /** Votes needed to pass: more than two thirds of `validators`. */
  needed: number;
  votes: { validator: string; address: string; org: string; approve: boolean }[];
  decidedHeight: number | null;
  log: string;
}
