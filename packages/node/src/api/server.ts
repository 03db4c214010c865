import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Ajv } from 'ajv';
import {
  MedLedgerError,
  TypesErrorCode,
  decodeByteStrings,
  decodeTx,
  fromHex,
  isMedLedgerError,
  toHex,
  MAX_TX_BYTES,
  type RecordQuery,
  type StatusView,
} from '@medledger/types';
import { sha256 } from '@medledger/crypto';
import type { BlockStore, TxLocation } from '@medledger/db';
import { StateErrorCode, type StateQueries, type Validator } from '@medledger/state';
import type { Registry } from 'prom-client';
import { NodeErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { blockToJson, toJsonValue, txToJson } from './json.js';
import { DOC_HTTP_STATUS } from '../docs/errors.js';
import { auditBundle, consentsBundle, orgNames } from '../fhir/index.js';
import { registerGovernanceRoutes } from './governance.js';
import { assertEvenHex, hexSchema } from './hex.js';
import { decimalIntegers } from './params.js';
import { clientErrorHandler, frameworkErrors } from './framework-errors.js';

/** What the API needs from the node: a narrow view, so the API owns no node internals. */
export interface ApiContext {
  ready(): boolean;
  status(): StatusView;
  blocks: BlockStore;
  queries: StateQueries;
  /** The set of the next height, each validator with its activity as this node saw it. */
  validators(): { height: number; validators: Validator[]; [more: string]: unknown };
  /** Checks a tx into the mempool and relays it; throws MedLedgerError on refusal. */
  submitTx(bytes: Uint8Array): { hash: string };
  /** False while the mempool has no room for clients' txs. */
  acceptsTxs(): boolean;
  /** Resolves when the tx is committed. */
  waitForCommit(hashHex: string, timeoutMs: number): Promise<TxLocation>;
  /** Block time of the last block: consent status is judged against it, never the wall clock. */
  latestTime(): number;
  registry: Registry;
  metrics: Metrics;
  /** Present only when fault injection is enabled in the config. */
  faults?: { blockPeers(peerIds: string[]): void };
}

const HTTP_STATUS: Record<string, number> = {
  [NodeErrorCode.NotFound]: 404,
  [NodeErrorCode.MempoolFull]: 503,
  [NodeErrorCode.RateLimited]: 429,
  [NodeErrorCode.Timeout]: 504,
  [NodeErrorCode.NotReady]: 503,
  [NodeErrorCode.TxFailed]: 422,
  [NodeErrorCode.TxDropped]: 422,
  [NodeErrorCode.BodyTooLarge]: 413,
  [NodeErrorCode.UnsupportedMediaType]: 415,
  // The node's own faults, not the client's (the default for other codes is 400).
  [NodeErrorCode.Internal]: 500,
  [StateErrorCode.CORRUPT]: 500,
  ...DOC_HTTP_STATUS,
};
/** `?format=fhir` answers with FHIR R4 resources in a Bundle instead of the JSON lists. */
const FORMAT = { type: 'string', enum: ['json', 'fhir'] } as const;

const ID = { type: 'string', pattern: '^[0-9a-f]{32}$' } as const;
/** Query properties of a paged list. */
const PAGE = {
  limit: { type: 'integer', minimum: 1, maximum: 500 },
  cursor: { type: 'string', maxLength: 512 },
} as const;
const HASH = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const notFound = (what: string) => new MedLedgerError(NodeErrorCode.NotFound, `${what} not found`);

const CBOR = 'application/cbor';

/** Most txs one `POST /txs/batch` takes. */
const MAX_BATCH_TXS = 1000;
/** MAX_BATCH_TXS txs of MAX_TX_BYTES in a CBOR array: each byte string's head and the array's are 3 bytes. */
const BATCH_BODY_LIMIT = 3 + MAX_BATCH_TXS * (3 + MAX_TX_BYTES);
const TX_REFUSAL = {
  type: 'object',
  properties: { code: { type: 'string' }, message: { type: 'string' } },
  required: ['code', 'message'],
} as const;
const BATCH_RESULTS = {
  type: 'object',
  properties: {
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: { hash: { type: 'string' }, accepted: { type: 'boolean' }, error: TX_REFUSAL },
        required: ['hash', 'accepted'],
      },
    },
  },
  required: ['results'],
} as const;
type TxRefusal = { code: string; message: string };
type BatchResult = { hash: string; accepted: true } | { hash: string; accepted: false; error: TxRefusal };

export function createApiServer(
  opts: { bodyLimitBytes: number; commitWaitMs: number },
  ctx: ApiContext,
  logger: Logger,
): FastifyInstance {
  const app = Fastify({
    bodyLimit: opts.bodyLimitBytes,
    logger: false,
    return503OnClosing: true,
    clientErrorHandler,
    frameworkErrors,
  });
  // JSON only (the batch route adds CBOR): Fastify's text/plain parser would hand a JSON route
  // a string, refused as the wrong shape instead of the wrong media type.
  app.removeContentTypeParser('text/plain');
  // Bodies must be exactly what the schema says: no type coercion, no silently dropped fields.
  // Path and query values arrive as strings, so only they are coerced (integers from decimal digits only).
  const strict = new Ajv({ coerceTypes: false, removeAdditional: false, allErrors: false });
  const lenient = new Ajv({ coerceTypes: true, removeAdditional: false, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strict.compile(schema) : decimalIntegers(schema, lenient.compile(schema)),
  );

  app.addHook('onResponse', async (req, reply) => {
    ctx.metrics.apiRequestSeconds.observe(
      { route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  const describeAndLog = (err: FastifyError | MedLedgerError | Error) => {
    const described = describeError(err);
    if (described.status >= 500 && described.status !== 503 && described.status !== 504) {
      logger.error({ err }, 'api error');
    }
    return described;
  };
  app.setErrorHandler((err: FastifyError | MedLedgerError | Error, _req, reply) => {
    const { status, code, message, meta } = describeAndLog(err);
    reply.status(status).send({ error: { code, message, ...(meta ? { meta } : {}) } });
  });
  app.setNotFoundHandler((_req, reply) => {
    reply.status(404).send({ error: { code: NodeErrorCode.NotFound, message: 'no such route' } });
  });

  app.get('/health', async (_req, reply) => {
    if (!ctx.ready()) return reply.status(503).send({ error: { code: NodeErrorCode.NotReady, message: 'starting' } });
    return { ok: true };
  });
  app.get('/status', async () => ctx.status());
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', ctx.registry.contentType);
    return ctx.registry.metrics();
  });
  app.get('/validators', async () => {
    const { validators, ...rest } = ctx.validators();
    return { ...rest, validators: validators.map((v) => toJsonValue(v)) };
  });
  app.get('/orgs', async () => ({ orgs: await ctx.queries.orgs() }));
  registerGovernanceRoutes(app, ctx);

  /**
   * A block as JSON, or, for `Accept: application/cbor`, its canonical bytes: what its hashes
   * and signatures cover, for a client that checks them itself (and a cheap read for a follower).
   */
  const block = (height: number, req: FastifyRequest, reply: FastifyReply) => {
    if (req.headers.accept === CBOR) {
      const bytes = ctx.blocks.getBlockBytes(height);
      if (!bytes) throw notFound(`block ${height}`);
      return reply.type(CBOR).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
    const stored = ctx.blocks.getBlock(height);
    if (!stored) throw notFound(`block ${height}`);
    const txs = stored.block.txs.map((raw) => ({ tx: decodeTx(raw), hash: toHex(sha256(raw)) }));
    return blockToJson(stored.block, stored.hash, txs);
  };
  app.get('/blocks/latest', async (req, reply) => block(ctx.blocks.latestHeight(), req, reply));
  app.get<{ Params: { height: number } }>(
    '/blocks/:height',
    {
      schema: {
        params: { type: 'object', properties: { height: { type: 'integer', minimum: 1 } }, required: ['height'] },
      },
    },
    async (req, reply) => block(req.params.height, req, reply),
  );

  app.post<{ Body: { tx: string }; Querystring: { wait?: 'commit' } }>(
    '/txs',
    {
      schema: {
        body: {
          type: 'object',
          // No maxLength: a tx over the limit is TOO_LARGE (below), as in a batch; the body limit bounds it.
          properties: { tx: { ...hexSchema(), minLength: 2 } },
          required: ['tx'],
          additionalProperties: false,
        },
        querystring: {
          type: 'object',
          properties: { wait: { type: 'string', enum: ['commit'] } },
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      if (req.body.tx.length > MAX_TX_BYTES * 2) {
        throw new MedLedgerError(TypesErrorCode.TOO_LARGE, `tx is over ${MAX_TX_BYTES} bytes`);
      }
      assertEvenHex(req.body.tx, 'tx');
      const bytes = fromHex(req.body.tx, 'tx');
      const hash = toHex(sha256(bytes));
      if (req.query.wait !== 'commit') {
        ctx.submitTx(bytes);
        return reply.status(202).send({ hash });
      }
      // Resubmitting a committed tx answers with its result: clients may retry safely.
      const done = ctx.blocks.getTx(fromHex(hash));
      const location = done ?? (ctx.submitTx(bytes), await ctx.waitForCommit(hash, opts.commitWaitMs));
      const result = { hash, height: location.height, index: location.index, code: location.code, log: location.log };
      if (result.code !== 0) throw new MedLedgerError(NodeErrorCode.TxFailed, `tx failed: ${result.log}`, result);
      return result;
    },
  );

  // A scope of its own, so that CBOR is taken by this route only and this route takes nothing else.
  void app.register(async (scope) => {
    const notCbor = () => new MedLedgerError(NodeErrorCode.UnsupportedMediaType, `send ${CBOR}`);
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(CBOR, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.addContentTypeParser('*', (_req, _payload, done) => done(notCbor()));
    scope.post(
      '/txs/batch',
      {
        bodyLimit: BATCH_BODY_LIMIT,
        schema: {
          response: {
            200: BATCH_RESULTS,
            503: { type: 'object', properties: { error: TX_REFUSAL }, required: ['error'] },
          },
        },
        // Under overload a refusal must cost next to nothing: before the body is even read.
        onRequest: async (_req, reply) => {
          if (ctx.acceptsTxs()) return;
          const error = new MedLedgerError(NodeErrorCode.MempoolFull, 'mempool is full, retry later');
          await reply
            .code(503)
            .header('retry-after', '1')
            .send({ error: { code: error.code, message: error.message } });
        },
      },
      async (req) => {
        // A request with neither body nor content type reaches the handler without a parser.
        if (!(req.body instanceof Uint8Array)) throw notCbor();
        const results: BatchResult[] = [];
        let full: TxRefusal | undefined;
        for (const bytes of batchTxs(req.body)) {
          // After the first MEMPOOL_FULL the rest is refused unchecked: a later nonce of an account
          // taken in while an earlier one waits for its retry could commit first and strand it.
          if (full) {
            results.push({ hash: toHex(sha256(bytes)), accepted: false, error: full });
            continue;
          }
          try {
            results.push({ hash: ctx.submitTx(bytes).hash, accepted: true });
          } catch (err) {
            const { code, message } = describeAndLog(err as Error);
            const error = { code, message };
            if (code === NodeErrorCode.MempoolFull) full = error;
            results.push({ hash: toHex(sha256(bytes)), accepted: false, error });
          }
        }
        return { results };
      },
    );
  });

  app.get<{ Params: { hash: string } }>(
    '/txs/:hash',
    { schema: { params: { type: 'object', properties: { hash: HASH }, required: ['hash'] } } },
    async (req) => {
      const found = ctx.blocks.getTx(fromHex(req.params.hash));
      if (!found) throw notFound('tx');
      const { tx, ...location } = found;
      return { hash: req.params.hash, ...location, tx: txToJson(decodeTx(tx), req.params.hash) };
    },
  );

  app.get<{ Params: { address: string } }>(
    '/accounts/:address',
    { schema: { params: { type: 'object', properties: { address: { type: 'string', pattern: '^[0-9a-f]{40}$' } } } } },
    async (req) => ({
      address: req.params.address,
      nonce: (await ctx.queries.account(req.params.address))?.nonce ?? 0,
    }),
  );

  app.get<{ Params: { id: string } }>(
    '/patients/:id',
    { schema: { params: { type: 'object', properties: { id: ID }, required: ['id'] } } },
    async (req) => {
      const patient = await ctx.queries.patient(req.params.id);
      if (!patient) throw notFound('patient');
      return { patient };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/records/:id',
    { schema: { params: { type: 'object', properties: { id: ID }, required: ['id'] } } },
    async (req) => {
      const record = await ctx.queries.record(req.params.id);
      if (!record) throw notFound('record');
      return { record };
    },
  );

  app.get<{ Querystring: RecordQuery }>(
    '/records',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            patient: ID,
            type: { type: 'string', pattern: '^[A-Z][A-Za-z]{1,63}$' },
            author: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' },
            since: { type: 'integer', minimum: 0 },
            until: { type: 'integer', minimum: 0 },
            ...PAGE,
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const q = req.query;
      if (!q.patient && !q.author && !q.type) {
        throw new MedLedgerError(NodeErrorCode.InvalidRequest, 'give at least one of patient, author or type');
      }
      const page = await ctx.queries.records(q);
      return { records: page.items, next: page.next };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { format?: 'json' | 'fhir' } }>(
    '/patients/:id/consents',
    {
      schema: {
        params: { type: 'object', properties: { id: ID }, required: ['id'] },
        querystring: { type: 'object', properties: { format: FORMAT }, additionalProperties: false },
      },
    },
    async (req) => {
      const consents = await ctx.queries.consentsByPatient(req.params.id, ctx.latestTime());
      if (req.query.format !== 'fhir') return { consents };
      return consentsBundle(consents, await orgNames(ctx.queries), ctx.latestTime());
    },
  );

  app.get<{
    Params: { id: string };
    Querystring: { limit?: number; cursor?: string; format?: 'json' | 'fhir' };
  }>(
    '/patients/:id/audit',
    {
      schema: {
        params: { type: 'object', properties: { id: ID }, required: ['id'] },
        querystring: {
          type: 'object',
          properties: {
            ...PAGE,
            format: FORMAT,
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const { limit, cursor, format } = req.query;
      const page = await ctx.queries.accessByPatient(req.params.id, { limit, cursor });
      if (format !== 'fhir') return { events: page.items, next: page.next };
      const next = new URLSearchParams({
        format: 'fhir',
        cursor: page.next ?? '',
        ...(limit ? { limit: String(limit) } : {}),
      });
      return auditBundle(page.items, {
        chainId: ctx.status().chainId,
        names: await orgNames(ctx.queries),
        time: ctx.latestTime(),
        ...(page.next ? { nextUrl: `/patients/${req.params.id}/audit?${next}` } : {}),
      });
    },
  );

  app.get<{ Querystring: { limit?: number; cursor?: string } }>(
    '/evidence',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: PAGE,
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const page = await ctx.queries.evidence(req.query);
      return { evidence: page.items, next: page.next };
    },
  );

  if (ctx.faults) {
    const faults = ctx.faults;
    app.post<{ Body: { blockPeers: string[] } }>(
      '/debug/faults',
      {
        schema: {
          body: {
            type: 'object',
            properties: { blockPeers: { type: 'array', items: { type: 'string', maxLength: 128 }, maxItems: 256 } },
            required: ['blockPeers'],
            additionalProperties: false,
          },
        },
      },
      async (req) => {
        faults.blockPeers(req.body.blockPeers);
        return { blockPeers: req.body.blockPeers };
      },
    );
  }
  return app;
}

/** The txs of a `POST /txs/batch` body: 1 to MAX_BATCH_TXS byte strings of at most MAX_TX_BYTES each. */
function batchTxs(body: Uint8Array): Uint8Array[] {
  const batchSize = (n: number) =>
    new MedLedgerError(NodeErrorCode.BatchSize, `a batch holds 1 to ${MAX_BATCH_TXS} txs, not ${n}`);
  const txs = decodeByteStrings(body, MAX_BATCH_TXS, batchSize);
  if (txs.length === 0) throw batchSize(0);
  txs.forEach((tx, i) => {
    if (tx.length > MAX_TX_BYTES) {
      throw new MedLedgerError(TypesErrorCode.TOO_LARGE, `body[${i}] is ${tx.length} bytes, limit ${MAX_TX_BYTES}`);
    }
  });
  return txs;
}

function describeError(err: FastifyError | MedLedgerError | Error): {
  status: number;
  code: string;
  message: string;
  meta?: Record<string, unknown>;
} {
  if (isMedLedgerError(err)) {
    const meta = err.code === NodeErrorCode.TxFailed || err.code === NodeErrorCode.TxDropped ? err.meta : undefined;
    return { status: HTTP_STATUS[err.code] ?? 400, code: err.code, message: err.message, ...(meta ? { meta } : {}) };
  }
  const f = err as FastifyError;
  if (f.validation) return { status: 400, code: NodeErrorCode.InvalidRequest, message: f.message };
  if (f.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    return { status: 413, code: NodeErrorCode.BodyTooLarge, message: 'request body is too large' };
  if (f.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return { status: 415, code: NodeErrorCode.UnsupportedMediaType, message: 'send application/json' };
  }
  if (f.statusCode === 400 && (err instanceof SyntaxError || f.code?.startsWith('FST_ERR_CTP'))) {
    return { status: 400, code: NodeErrorCode.BadJson, message: 'request body is not valid JSON' };
  }
  if (f.statusCode && f.statusCode >= 400 && f.statusCode < 500) {
    return { status: f.statusCode, code: NodeErrorCode.InvalidRequest, message: f.message };
  }
  return { status: 500, code: NodeErrorCode.Internal, message: 'internal error' };
}
