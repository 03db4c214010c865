import { MedLedgerError } from '@medledger/types';

/** Every error the network throws carries one of these codes (DESIGN §9: one base error class with a code). */
export const NetworkErrorCode = {
  INVALID_OPTIONS: 'NETWORK_INVALID_OPTIONS',
  INVALID_PEER_ID: 'NETWORK_INVALID_PEER_ID',
  INVALID_KEY: 'NETWORK_INVALID_KEY',
  NOT_STARTED: 'NETWORK_NOT_STARTED',
  START_FAILED: 'NETWORK_START_FAILED',
  ALREADY_SUBSCRIBED: 'NETWORK_ALREADY_SUBSCRIBED',
  ALREADY_HANDLED: 'NETWORK_ALREADY_HANDLED',
  MESSAGE_TOO_LARGE: 'NETWORK_MESSAGE_TOO_LARGE',
  PUBLISH_FAILED: 'NETWORK_PUBLISH_FAILED',
  PEER_BLOCKED: 'NETWORK_PEER_BLOCKED',
  PEER_NOT_ALLOWED: 'NETWORK_PEER_NOT_ALLOWED',
  DIAL_FAILED: 'NETWORK_DIAL_FAILED',
  STREAM_ERROR: 'NETWORK_STREAM_ERROR',
  PROTOCOL_ERROR: 'NETWORK_PROTOCOL_ERROR',
  REQUEST_TOO_LARGE: 'NETWORK_REQUEST_TOO_LARGE',
  RESPONSE_TOO_LARGE: 'NETWORK_RESPONSE_TOO_LARGE',
  /** The remote answered with an error frame; the message is the remote's. */
  REMOTE_ERROR: 'NETWORK_REMOTE_ERROR',
  ABORTED: 'NETWORK_ABORTED',
  TIMEOUT: 'NETWORK_TIMEOUT',
} as const;
export type NetworkErrorCode = (typeof NetworkErrorCode)[keyof typeof NetworkErrorCode];

export function networkError(
  code: NetworkErrorCode,
  message: string,
  meta: Record<string, unknown> = {},
): MedLedgerError {
  return new MedLedgerError(code, message, meta);
}

/** Turns an aborted signal into ABORTED or TIMEOUT (AbortSignal.timeout aborts with a TimeoutError). */
export function abortError(signal: AbortSignal, what: string): MedLedgerError {
  const reason: unknown = signal.reason;
  const isTimeout = reason instanceof Error && reason.name === 'TimeoutError';
  return networkError(
    isTimeout ? NetworkErrorCode.TIMEOUT : NetworkErrorCode.ABORTED,
    `${what} ${isTimeout ? 'timed out' : 'aborted'}`,
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
