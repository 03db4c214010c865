/** Defaults of the client; every one can be overridden through `ClientOptions`. */
export const DEFAULT_API = 'http://127.0.0.1:26657';
export const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * `POST /txs?wait=commit` answers 504 after 30 s on the node side; the HTTP call waits a little
 * longer so the node's own TIMEOUT answer arrives instead of a client abort.
 */
export const DEFAULT_COMMIT_TIMEOUT_MS = 35_000;
/** Blocks come at least every second on a testnet; polling faster than that only costs requests. */
export const DEFAULT_POLL_INTERVAL_MS = 100;

export interface ClientOptions {
  /** Base URL of a node's HTTP API, e.g. `http://127.0.0.1:26657`. */
  api: string;
  /** Per-call timeout for everything except waiting for a commit. */
  timeoutMs?: number;
  /** Timeout for calls that wait for a commit. */
  commitTimeoutMs?: number;
}

export interface CallOptions {
  /** Aborts the call (combined with the client's timeout). */
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

export interface SubmitOptions extends CallOptions {
  /** 'commit': answer only once the tx is in a committed block. */
  wait?: 'commit';
}

export interface WaitOptions extends CallOptions {
  pollIntervalMs?: number;
}
