import type { FastifyError, FastifyInstance } from 'fastify';
import { fromHex, MAX_DOC_REQUEST_BYTES, toHex, type DocumentUploadBody } from '@medledger/types';
import { assertEvenHex, hexSchema } from '../api/hex.js';
import { DocErrorCode, docError } from './errors.js';
import { uploadBodyLimit } from './options.js';
import type { DocumentService } from './service.js';

const ID = { type: 'string', pattern: '^[0-9a-f]{32}$' } as const;
const params = { type: 'object', properties: { id: ID }, required: ['id'] } as const;

/**
 * The document endpoints (docs/API.md, ADR 0006). Registered on the node's API server, whose
 * error handler turns the service's MedLedgerErrors into `{error: {code, message}}` answers.
 */
export function registerDocumentRoutes(app: FastifyInstance, docs: DocumentService): void {
  app.put<{ Params: { id: string }; Body: DocumentUploadBody }>(
    '/records/:id/document',
    {
      bodyLimit: uploadBodyLimit(docs.options),
      // A body over the route's limit is a document over the size limit: say so, as the service
      // does for a ciphertext that fits the body but not the limit. The server's handler answers.
      errorHandler: (err: FastifyError) => {
        if (err.code !== 'FST_ERR_CTP_BODY_TOO_LARGE') throw err;
        throw docError(DocErrorCode.TOO_LARGE, `document is over ${docs.options.maxDocumentBytes} bytes`);
      },
      schema: {
        params,
        body: {
          type: 'object',
          properties: {
            // No maxLength: the body limit bounds it, and the service answers DOCUMENT_TOO_LARGE.
            ciphertext: hexSchema(),
            authorKey: hexSchema(256),
            patientKey: { anyOf: [hexSchema(256), { type: 'null' }] },
            time: { type: 'integer', minimum: 0 },
            from: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            signature: { type: 'string', pattern: '^[0-9a-f]{128}$' },
          },
          required: ['ciphertext', 'authorKey', 'patientKey', 'time', 'from', 'signature'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const { ciphertext, authorKey, patientKey } = req.body;
      assertEvenHex(ciphertext, 'ciphertext');
      assertEvenHex(authorKey, 'authorKey');
      if (patientKey !== null) assertEvenHex(patientKey, 'patientKey');
      const result = await docs.upload(req.params.id, req.body);
      return reply.status(result.stored ? 201 : 200).send(result);
    },
  );

  app.get<{ Params: { id: string } }>('/records/:id/document', { schema: { params } }, async (req) =>
    docs.status(req.params.id),
  );

  app.post<{ Params: { id: string }; Body: { request: string } }>(
    '/records/:id/document/fetch',
    {
      schema: {
        params,
        body: {
          type: 'object',
          properties: { request: hexSchema(MAX_DOC_REQUEST_BYTES) },
          required: ['request'],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      assertEvenHex(req.body.request, 'request');
      const doc = await docs.fetch(req.params.id, fromHex(req.body.request, 'request'));
      return {
        record: doc.record,
        contentHash: doc.contentHash,
        ciphertext: toHex(doc.ciphertext),
        wrappedKey: toHex(doc.wrappedKey),
        consent: doc.consent,
        breakGlass: doc.breakGlass,
        accessTx: doc.accessTx,
        holder: doc.holder,
      };
    },
  );
}
