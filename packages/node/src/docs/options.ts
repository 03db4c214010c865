import { MAX_DOCUMENT_BYTES } from '@medledger/types';

/** Limits of the document store and `/docs/1`. */
export interface DocsOptions {
  /** Largest ciphertext accepted and served. */
  maxDocumentBytes: number;
  /** Bound on one fetch from a holder (the holder commits an access event before answering). */
  fetchTimeoutMs: number;
  /** How long the holder waits for its access event to commit before it refuses. */
  commitTimeoutMs: number;
  /** Requests per second one peer may make on `/docs/1`. */
  requestsPerSecond: number;
}

export const DEFAULT_DOCS_OPTIONS: DocsOptions = {
  maxDocumentBytes: MAX_DOCUMENT_BYTES,
  fetchTimeoutMs: 25_000,
  commitTimeoutMs: 20_000,
  requestsPerSecond: 20,
};

/** Hex in JSON doubles the bytes; the rest of an upload body is small. */
export const uploadBodyLimit = (o: DocsOptions): number => o.maxDocumentBytes * 2 + 64 * 1024;
