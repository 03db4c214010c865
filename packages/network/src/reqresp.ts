import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { MedLedgerError } from '@medledger/types';
import type { Logger } from 'pino';
import { plain } from './bytes.js';
import { NetworkErrorCode, abortError, errorMessage, networkError } from './errors.js';
import type { ProtocolLimits, RequestHandler } from './interface.js';
import type { NetworkMetrics, RequestOutcome } from './metrics.js';
import type { TokenBuckets } from './rate-limit.js';

/**
 * Wire format of one exchange, on one stream: the requester writes one length-prefixed (unsigned
 * varint) request frame and closes its write side; the responder writes one length-prefixed
 * response frame and closes. Response frame: byte 0 is the status, 0 = ok followed by the
 * payload, 1 = error followed by a UTF-8 message.
 */
export const ResponseStatus = { Ok: 0, Error: 1 } as const;

/** Error messages are for humans and logs; cap them so an error frame always fits. */
export const MAX_ERROR_MESSAGE_BYTES = 512;

/** Messages the responder sends itself (the requester sees them as NETWORK_REMOTE_ERROR). */
export const RemoteErrorMessage = {
  RATE_LIMITED: 'rate limited',
  REQUEST_TOO_LARGE: 'request too large',
  RESPONSE_TOO_LARGE: 'response too large',
  TIMEOUT: 'request timed out',
} as const;

export function okFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(payload.length + 1);
  frame[0] = ResponseStatus.Ok;
  frame.set(payload, 1);
  return frame;
}

export function errorFrame(message: string): Uint8Array {
  let bytes = Buffer.from(message, 'utf8');
  if (bytes.length > MAX_ERROR_MESSAGE_BYTES) bytes = bytes.subarray(0, MAX_ERROR_MESSAGE_BYTES);
  const frame = new Uint8Array(bytes.length + 1);
  frame[0] = ResponseStatus.Error;
  frame.set(bytes, 1);
  return frame;
}

/** Decodes a response frame: the payload, or the MedLedgerError the requester throws. */
export function decodeResponse(frame: Uint8Array, maxResponseBytes: number, meta: Record<string, unknown>): Uint8Array {
  if (frame.length === 0) throw networkError(NetworkErrorCode.PROTOCOL_ERROR, 'empty response frame', meta);
  const status = frame[0];
  if (status === ResponseStatus.Ok) {
    const payload = frame.subarray(1);
    if (payload.length > maxResponseBytes) {
      throw networkError(NetworkErrorCode.RESPONSE_TOO_LARGE, `response exceeds ${maxResponseBytes} bytes`, meta);
    }
    return payload;
  }
  if (status === ResponseStatus.Error) {
    const message = new TextDecoder('utf-8', { fatal: false }).decode(frame.subarray(1, 1 + MAX_ERROR_MESSAGE_BYTES));
    throw networkError(NetworkErrorCode.REMOTE_ERROR, message, meta);
  }
  throw networkError(NetworkErrorCode.PROTOCOL_ERROR, `unknown response status ${status}`, meta);
}

/**
 * Read buffer beyond the frame limit. Data arrives in muxer frames of up to a yamux window
 * (256 KiB); a buffer that overflows aborts the stream, so it must hold the frame that carries an
 * oversize length prefix long enough for us to read that prefix and answer "too large".
 */
const CHUNK_SLACK = 256 * 1024;

function isTooLong(err: unknown): boolean {
  return err instanceof Error && (err.name === 'InvalidDataLengthError' || err.name === 'InvalidDataLengthLengthError');
}

export interface ServeContext {
  protocol: string;
  handler: RequestHandler;
  limits: ProtocolLimits;
  limiter: TokenBuckets;
  admits(peer: PeerId): boolean;
  timeoutMs: number;
  /** Aborted when the network stops, so handlers in flight give up. */
  stopSignal: AbortSignal;
  log: Logger;
  metrics?: NetworkMetrics;
}

/** Answers one inbound stream. Never throws: every failure ends in an error frame or a stream reset. */
export async function serveStream(stream: Stream, connection: Connection, ctx: ServeContext): Promise<void> {
  const from = connection.remotePeer.toString();
  const { protocol, limits, log } = ctx;
  const done = (outcome: RequestOutcome): void => ctx.metrics?.requestServed?.(protocol, outcome);
  if (!ctx.admits(connection.remotePeer)) {
    // The fault layer (or a key removed a moment ago): answer nothing.
    stream.abort(new Error('peer not admitted'));
    done('aborted');
    return;
  }
  const local = new AbortController();
  const signal = AbortSignal.any([local.signal, AbortSignal.timeout(ctx.timeoutMs), ctx.stopSignal]);
  const onClose = (): void => local.abort(new Error('stream closed'));
  stream.addEventListener('close', onClose);
  const onAbort = (): void => stream.abort(new Error('request handling aborted'));
  signal.addEventListener('abort', onAbort);
  const lp = lpStream(stream, {
    maxDataLength: limits.maxRequestBytes,
    maxBufferSize: limits.maxRequestBytes + CHUNK_SLACK,
  });
  const reply = async (frame: Uint8Array): Promise<void> => {
    await lp.write(frame, { signal });
    await stream.close({ signal });
  };
  // Say why, then stop reading: the rest of the request is discarded, not buffered.
  const refuse = async (message: string, outcome: RequestOutcome): Promise<void> => {
    lp.unwrap();
    await stream.closeRead();
    const s = lpStream(stream);
    await s.write(errorFrame(message), { signal });
    await stream.close({ signal });
    done(outcome);
  };
  try {
    if (!ctx.limiter.take(from)) {
      log.debug({ protocol, from }, 'request rate limited');
      await refuse(RemoteErrorMessage.RATE_LIMITED, 'rate_limited');
      return;
    }
    let request: Uint8Array;
    try {
      request = plain((await lp.read({ signal })).subarray());
    } catch (err) {
      if (isTooLong(err)) {
        log.debug({ protocol, from, maxBytes: limits.maxRequestBytes }, 'request too large');
        await refuse(RemoteErrorMessage.REQUEST_TOO_LARGE, 'too_large');
        return;
      }
      throw err;
    }
    let frame: Uint8Array;
    let outcome: RequestOutcome = 'ok';
    try {
      const response = await ctx.handler(request, from, signal);
      if (!(response instanceof Uint8Array)) {
        log.error({ protocol }, 'request handler returned no bytes');
        frame = errorFrame('internal error');
        outcome = 'error';
      } else if (response.length > limits.maxResponseBytes) {
        log.warn({ protocol, bytes: response.length, maxBytes: limits.maxResponseBytes }, 'response too large');
        frame = errorFrame(RemoteErrorMessage.RESPONSE_TOO_LARGE);
        outcome = 'too_large';
      } else {
        frame = okFrame(response);
      }
    } catch (err) {
      if (signal.aborted) throw err;
      frame = errorFrame(errorMessage(err));
      outcome = 'error';
    }
    await reply(frame);
    done(outcome);
  } catch (err) {
    log.debug({ protocol, from, err: errorMessage(err) }, 'request stream failed');
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    done('aborted');
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.removeEventListener('close', onClose);
  }
}

export interface SendOptions {
  signal: AbortSignal;
  maxResponseBytes: number;
}

/** Sends one request on a fresh stream and reads one response frame. */
export async function sendRequest(
  open: (signal: AbortSignal) => Promise<Stream>,
  data: Uint8Array,
  opts: SendOptions,
  meta: Record<string, unknown>,
): Promise<Uint8Array> {
  const { signal, maxResponseBytes } = opts;
  if (signal.aborted) throw abortError(signal, 'request');
  let stream: Stream;
  try {
    stream = await open(signal);
  } catch (err) {
    if (signal.aborted) throw abortError(signal, 'request');
    if (err instanceof MedLedgerError) throw err;
    throw networkError(NetworkErrorCode.DIAL_FAILED, `could not open stream: ${errorMessage(err)}`, {
      ...meta,
      cause: err instanceof Error ? err.name : undefined,
    });
  }
  const onAbort = (): void => stream.abort(new Error('request aborted'));
  signal.addEventListener('abort', onAbort);
  let frame: Uint8Array;
  try {
    // Error frames must fit even when the caller expects tiny responses.
    const maxFrame = Math.max(maxResponseBytes, MAX_ERROR_MESSAGE_BYTES) + 1;
    const lp = lpStream(stream, { maxDataLength: maxFrame, maxBufferSize: maxFrame + CHUNK_SLACK });
    // Read while writing: a responder may refuse (rate limit, size) before reading it all.
    const writing = lp.write(data, { signal }).then(() => stream.close({ signal }));
    writing.catch(() => {
      // The outcome is decided by the response frame, or its absence, below.
    });
    try {
      frame = plain((await lp.read({ signal })).subarray());
    } catch (err) {
      if (signal.aborted) throw abortError(signal, 'request');
      if (isTooLong(err)) {
        throw networkError(NetworkErrorCode.RESPONSE_TOO_LARGE, `response exceeds ${maxResponseBytes} bytes`, meta);
      }
      throw networkError(NetworkErrorCode.STREAM_ERROR, `no response: ${errorMessage(err)}`, meta);
    }
  } catch (err) {
    if (stream.status === 'open') stream.abort(err instanceof Error ? err : new Error(String(err)));
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  // A response before our request was fully sent (a refusal): stop sending.
  if (stream.writeStatus !== 'closed') stream.abort(new Error('response received before the request was sent'));
  return decodeResponse(frame, maxResponseBytes, meta);
}
