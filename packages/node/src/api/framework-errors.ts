import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { NodeErrorCode } from '../errors.js';

/**
 * Answers that Fastify and Node's HTTP parser give before any route or error handler runs, in
 * the API's own `{error: {code, message}}` shape (Fastify's is `{error, message, statusCode}`,
 * and its bad-URL message quotes the URL: client input is never echoed).
 */

/** Node's HTTP parser refused the bytes (e.g. a body longer than its Content-Length): no request exists. */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset connection has nobody to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', NodeErrorCode.Timeout, 'the request did not arrive in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', NodeErrorCode.InvalidRequest, 'the request headers are too large']
        : [400, 'Bad Request', NodeErrorCode.InvalidRequest, 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

/** A URL the router cannot read (bad percent-encoding, an over-long parameter). */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const [status, code, message] =
    err.code === 'FST_ERR_BAD_URL'
      ? [400, NodeErrorCode.InvalidRequest, 'the URL is not valid']
      : err.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? [414, NodeErrorCode.InvalidRequest, 'a path parameter is too long']
        : [500, NodeErrorCode.Internal, 'internal error'];
  void reply.code(status).send({ error: { code, message } });
}
