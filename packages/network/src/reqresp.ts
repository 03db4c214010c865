import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { lpStream } from '@libp2p/utils';
import { MedLedgerError } from '@medledger/types';
import type { Logger } from 'pino';
import { plain } from './bytes.js';
import { NetworkErrorCode, abortError, errorMessage, networkError } from './errors.js';
import type { ProtocolLimits, RequestHandler } from './interface.js';
import type { NetworkMetrics, RequestOutcome } from './metrics.js';
import type { TokenBuckets } from './rate-limit.js';
import type { KeyedCounter } from './slots.js';

/**
 * Wire format: the requester writes a length-prefixed (unsigned varint) request frame, the
 * responder answers with one length-prefixed response frame, and so on, one exchange at a time;
 * the responder closes once the requester has closed its write side. A one-off request closes
 * right after its frame; a kept stream (`KeptStream`) carries a peer's requests in sequence.
 * Response frame: byte 0 is the status, 0 = ok followed by the payload, 1 = error followed by a
 * UTF-8 message.
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
  /** Streams of this protocol open per peer (`limits.maxStreamsPerPeer`). */
  openStreams: KeyedCounter;
  admits(peer: PeerId): boolean;
  timeoutMs: number;
  /** Aborted when the network stops, so handlers in flight give up. */
  stopSignal: AbortSignal;
  log: Logger;
  metrics?: NetworkMetrics;
}

/**
 * Answers the requests of one inbound stream, in order, until the requester closes it. Never
 * throws: every failure ends in an error frame or a stream reset. The first request must arrive
 * within the timeout; later ones may take their time (a kept stream idles between batches).
 */
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
  const closed = new AbortController();
  const onClose = (): void => closed.abort(new Error('stream closed'));
  stream.addEventListener('close', onClose);
  const lp = lpStream(stream, {
    maxDataLength: limits.maxRequestBytes,
    maxBufferSize: limits.maxRequestBytes + CHUNK_SLACK,
  });
  // Say why, then stop reading: the rest of the request is discarded, not buffered.
  const refuse = async (message: string, signal: AbortSignal): Promise<void> => {
    lp.unwrap();
    await stream.closeRead();
    const s = lpStream(stream);
    await s.write(errorFrame(message), { signal });
    await stream.close({ signal });
  };
  if (!ctx.openStreams.enter(from)) {
    log.debug({ protocol, from }, 'too many streams from one peer');
    stream.abort(new Error('too many streams'));
    done('rate_limited');
    return;
  }
  try {
    for (let served = 0; ; served++) {
      const waitSignal = AbortSignal.any(
        served === 0
          ? [closed.signal, AbortSignal.timeout(ctx.timeoutMs), ctx.stopSignal]
          : [closed.signal, ctx.stopSignal],
      );
      let request: Uint8Array;
      try {
        request = plain((await lp.read({ signal: waitSignal })).subarray());
      } catch (err) {
        if (isTooLong(err)) {
          log.debug({ protocol, from, maxBytes: limits.maxRequestBytes }, 'request too large');
          await refuse(RemoteErrorMessage.REQUEST_TOO_LARGE, abortAfter(ctx));
          done('too_large');
          return;
        }
        // The requester closed its side after its last request: the normal end of a stream.
        if (served > 0 && stream.remoteWriteStatus !== 'writable' && !waitSignal.aborted) {
          await stream.close({ signal: abortAfter(ctx) });
          return;
        }
        throw err;
      }
      const signal = AbortSignal.any([closed.signal, AbortSignal.timeout(ctx.timeoutMs), ctx.stopSignal]);
      const onAbort = (): void => stream.abort(new Error('request handling aborted'));
      signal.addEventListener('abort', onAbort);
      try {
        const { frame, outcome } = await answer(request, from, signal, ctx);
        await lp.write(frame, { signal });
        done(outcome);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    }
  } catch (err) {
    log.debug({ protocol, from, err: errorMessage(err) }, 'request stream failed');
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    done('aborted');
  } finally {
    stream.removeEventListener('close', onClose);
    ctx.openStreams.leave(from);
  }
}

/** A bound on the last writes of a stream. */
function abortAfter(ctx: ServeContext): AbortSignal {
  return AbortSignal.any([AbortSignal.timeout(ctx.timeoutMs), ctx.stopSignal]);
}

/** The response frame for one request: rate limit, handler, size limit. */
async function answer(
  request: Uint8Array,
  from: string,
  signal: AbortSignal,
  ctx: ServeContext,
): Promise<{ frame: Uint8Array; outcome: RequestOutcome }> {
  const { protocol, limits, log } = ctx;
  if (!ctx.limiter.take(from)) {
    log.debug({ protocol, from }, 'request rate limited');
    return { frame: errorFrame(RemoteErrorMessage.RATE_LIMITED), outcome: 'rate_limited' };
  }
  try {
    const response = await ctx.handler(request, from, signal);
    if (!(response instanceof Uint8Array)) {
      log.error({ protocol }, 'request handler returned no bytes');
      return { frame: errorFrame('internal error'), outcome: 'error' };
    }
    if (response.length > limits.maxResponseBytes) {
      log.warn({ protocol, bytes: response.length, maxBytes: limits.maxResponseBytes }, 'response too large');
      return { frame: errorFrame(RemoteErrorMessage.RESPONSE_TOO_LARGE), outcome: 'too_large' };
    }
    return { frame: okFrame(response), outcome: 'ok' };
  } catch (err) {
    if (signal.aborted) throw err;
    return { frame: errorFrame(errorMessage(err)), outcome: 'error' };
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
  const stream = await openStream(open, signal, meta);
  const onAbort = (): void => stream.abort(new Error('request aborted'));
  signal.addEventListener('abort', onAbort);
  let frame: Uint8Array;
  try {
    const lp = lpStream(stream, frameLimits(maxResponseBytes));
    // Read while writing: a responder may refuse (rate limit, size) before reading it all.
    const writing = lp.write(data, { signal }).then(() => stream.close({ signal }));
    writing.catch(() => {
      // The outcome is decided by the response frame, or its absence, below.
    });
    frame = await readResponse(lp, signal, maxResponseBytes, meta);
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

/**
 * One peer's requests for one protocol, in sequence on one stream kept open between them. A
 * sender of frequent small requests (the tx relay: a batch every few milliseconds per peer)
 * would otherwise pay a muxer stream, a protocol negotiation and a peer-store update per
 * request. Each request waits for the one before. A stream that failed or was closed is
 * dropped, and the next request opens another.
 */
export class KeptStream {
  #stream: Stream | undefined;
  #lp: ReturnType<typeof lpStream> | undefined;
  #maxResponseBytes = 0;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly open: (signal: AbortSignal) => Promise<Stream>,
    private readonly meta: Record<string, unknown>,
  ) {}

  request(data: Uint8Array, opts: SendOptions): Promise<Uint8Array> {
    const run = this.#tail.then(() => this.#send(data, opts));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  close(): void {
    this.#drop(new Error('kept stream closed'));
  }

  async #send(data: Uint8Array, { signal, maxResponseBytes }: SendOptions): Promise<Uint8Array> {
    if (signal.aborted) throw abortError(signal, 'request');
    let lp = this.#lp;
    if (!lp || !this.#usable() || this.#maxResponseBytes !== maxResponseBytes) {
      this.#drop(new Error('replaced'));
      const stream = await openStream(this.open, signal, this.meta);
      lp = lpStream(stream, frameLimits(maxResponseBytes));
      [this.#stream, this.#lp, this.#maxResponseBytes] = [stream, lp, maxResponseBytes];
    }
    // An abandoned exchange leaves a response in flight: the stream cannot be reused after it.
    const onAbort = (): void => this.#drop(new Error('request aborted'));
    signal.addEventListener('abort', onAbort);
    try {
      await lp.write(data, { signal });
      const frame = await readResponse(lp, signal, maxResponseBytes, this.meta);
      return decodeResponse(frame, maxResponseBytes, this.meta);
    } catch (err) {
      // An error frame leaves the stream in step; anything else may not have.
      if ((err as { code?: string }).code !== NetworkErrorCode.REMOTE_ERROR) this.#drop(err);
      if (signal.aborted) throw abortError(signal, 'request');
      if (err instanceof MedLedgerError) throw err;
      throw networkError(NetworkErrorCode.STREAM_ERROR, `request not sent: ${errorMessage(err)}`, this.meta);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  #usable(): boolean {
    const s = this.#stream;
    return s?.status === 'open' && s.writeStatus === 'writable' && s.remoteWriteStatus === 'writable';
  }

  #drop(reason: unknown): void {
    if (this.#stream?.status === 'open')
      this.#stream.abort(reason instanceof Error ? reason : new Error(String(reason)));
    this.#stream = undefined;
    this.#lp = undefined;
  }
}

async function openStream(
  open: (signal: AbortSignal) => Promise<Stream>,
  signal: AbortSignal,
  meta: Record<string, unknown>,
): Promise<Stream> {
  if (signal.aborted) throw abortError(signal, 'request');
  try {
    return await open(signal);
  } catch (err) {
    if (signal.aborted) throw abortError(signal, 'request');
    if (err instanceof MedLedgerError) throw err;
    throw networkError(NetworkErrorCode.DIAL_FAILED, `could not open stream: ${errorMessage(err)}`, {
      ...meta,
      cause: err instanceof Error ? err.name : undefined,
    });
  }
}

/** Error frames must fit even when the caller expects tiny responses. */
function frameLimits(maxResponseBytes: number): { maxDataLength: number; maxBufferSize: number } {
  const maxFrame = Math.max(maxResponseBytes, MAX_ERROR_MESSAGE_BYTES) + 1;
  return { maxDataLength: maxFrame, maxBufferSize: maxFrame + CHUNK_SLACK };
}

async function readResponse(
  lp: ReturnType<typeof lpStream>,
  signal: AbortSignal,
  maxResponseBytes: number,
  meta: Record<string, unknown>,
): Promise<Uint8Array> {
  try {
    return plain((await lp.read({ signal })).subarray());
  } catch (err) {
    if (signal.aborted) throw abortError(signal, 'request');
    if (isTooLong(err)) {
      throw networkError(NetworkErrorCode.RESPONSE_TOO_LARGE, `response exceeds ${maxResponseBytes} bytes`, meta);
    }
    throw networkError(NetworkErrorCode.STREAM_ERROR, `no response: ${errorMessage(err)}`, meta);
  }
}
