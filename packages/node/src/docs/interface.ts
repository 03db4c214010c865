import type { EncKey } from '@medledger/crypto';
import type { Database, TxLocation } from '@medledger/db';
import type { NetworkService } from '@medledger/network';
import type { StateQueries } from '@medledger/state';
import type { TxPayloads, TxType } from '@medledger/types';
import type { Logger } from '../logger.js';

/** What the document service needs from the node: narrow, so tests can stand in for each part. */
export interface DocsModules {
  db: Database;
  queries: Pick<
    StateQueries,
    'record' | 'erasure' | 'org' | 'orgOfKey' | 'consentsByPatient' | 'patient' | 'requestServed'
  >;
  network: Pick<NetworkService, 'handle' | 'request' | 'peerId'>;
  chainId: string;
  /** This node's ed25519 node key (public): which organisation it belongs to comes from the registry. */
  nodePublicKey: Uint8Array;
  /** The organisation's x25519 key (`keys/enc.key`); without it this node holds no documents. */
  encKey: EncKey | undefined;
  /** Block time of the last committed block: consent status is judged against it. */
  latestTime(): number;
  /** Wall clock (request and upload freshness only; never a consensus input). */
  now(): number;
  /** Signs a tx with the node key, submits it and waits for its commit. */
  sendNodeTx<T extends TxType>(
    type: T,
    payload: TxPayloads[T],
    timeoutMs: number,
  ): Promise<TxLocation & { hash: string }>;
  logger: Logger;
}

/** What the reader's node hands back to its client: still encrypted, for the reader's org key only. */
export interface FetchedDocument {
  record: string;
  ciphertext: Uint8Array;
  wrappedKey: Uint8Array;
  contentHash: string;
  consent: string | null;
  breakGlass: string | null;
  accessTx: string;
  holder: string;
}

export interface DocumentStatus {
  record: string;
  /** This node holds the ciphertext. */
  held: boolean;
  size: number | null;
  erasure: { record: string; erasedAt: number; height: number; tx: string } | null;
}
