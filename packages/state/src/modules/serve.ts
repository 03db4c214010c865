import { sha256, verifyDocRequest } from '@medledger/crypto';
import { decodeDocRequest, docRequestFresh, type AccessServePayload, type DocRequest } from '@medledger/types';
import { TxCode } from '../interface.js';
import { fail, ok, type TxHandler } from '../context.js';
import { KeyRole } from '../entities.js';
import { servedRequestKey } from '../keys.js';
import { checkConsent, writeAccessEvent } from './access.js';
import { readErasure } from './erasure.js';
import { readRecord } from './records.js';
import { readKeyOwner } from './registry.js';

/**
 * `access.serve` (ADR 0006): the holder of a document (a node of the record's author
 * organisation, signing with its node key) records that it is serving the document to the
 * organisation whose org key signed the request. The request rides in the tx, so the event is
 * attributable to the reader and cannot be invented by the holder; consent is judged again at
 * this block's time, so a revocation committed first wins. Each request is served once.
 */
const EMPTY = new Uint8Array(0);

export const serveAccess: TxHandler<'access.serve'> = (ctx, p: AccessServePayload) => {
  if (ctx.signer?.role !== KeyRole.Node) return fail(TxCode.Unauthorized, 'documents are served with a node key');
  let request: DocRequest;
  try {
    request = decodeDocRequest(p.request);
  } catch {
    return fail(TxCode.Invalid, 'document request does not decode');
  }
  if (request.chainId !== ctx.chainId) return fail(TxCode.Invalid, 'document request is for another chain');
  if (!verifyDocRequest(request)) return fail(TxCode.Unauthorized, 'document request signature does not verify');
  const reader = readKeyOwner(ctx.store, request.from);
  if (reader?.role !== KeyRole.Org) return fail(TxCode.Unauthorized, 'document request is not signed by an org key');
  const record = readRecord(ctx.store, request.record);
  if (!record) return fail(TxCode.NotFound, 'record not found');
  if (record.author !== ctx.signer.org) {
    return fail(TxCode.Unauthorized, 'only a node of the author organisation serves its documents');
  }
  if (readErasure(ctx.store, record.id)) return fail(TxCode.Invalid, 'record was erased');
  if (!docRequestFresh(request.time, ctx.time)) return fail(TxCode.Expired, 'document request is stale');
  const served = servedRequestKey(sha256(p.request));
  if (ctx.store.has(served)) return fail(TxCode.AlreadyExists, 'document request was already served');

  if (request.breakGlass !== null) {
    if (p.consent !== null) return fail(TxCode.Invalid, 'a break-glass access names no consent');
  } else {
    if (p.consent === null) return fail(TxCode.Invalid, 'a consented access names its consent');
    const refused = checkConsent(ctx, p.consent, reader.org, record, request.purpose);
    if (refused) return refused;
  }

  writeAccessEvent(ctx, record, {
    accessor: reader.org,
    purpose: request.purpose,
    consent: p.consent,
    breakGlass: request.breakGlass,
  });
  ctx.store.put(served, EMPTY);
  return ok();
};
