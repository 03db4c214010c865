import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MedLedgerError } from '@medledger/types';
import { MedLedgerClient } from '../src/index.js';

/**
 * A tiny HTTP double that answers fixed error bodies, to check how the client maps HTTP answers
 * to errors. The real node is tested end to end elsewhere.
 */
type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const seen: { method: string; url: string; body: string }[] = [];

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c.toString()));
  req.on('end', () => {
    seen.push({ method: req.method!, url: req.url!, body });
    const handler = routes.get(new URL(req.url!, 'http://x').pathname);
    if (handler) return handler(req, body, res);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'no such route' } }));
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.closeAllConnections();
  server.close();
});

const json = (status: number, value: unknown) => (_req: IncomingMessage, _body: string, res: ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
};

routes.set('/status', json(200, { chainId: 'c1', height: 5 }));
routes.set(
  '/records/' + 'ab'.repeat(16),
  json(404, { error: { code: 'NOT_FOUND', message: 'record not found', meta: { id: 'ab'.repeat(16) } } }),
);
routes.set('/txs', (req, _body, res) => {
  const commit = new URL(req.url!, 'http://x').searchParams.get('wait') === 'commit';
  if (!commit)
    return json(400, { error: { code: 'BAD_SIGNATURE', message: 'signature does not verify' } })(req, '', res);
  const meta = { hash: 'aa', height: 9, index: 0, code: 2, log: 'not the custodian' };
  json(422, { error: { code: 'TX_FAILED', message: 'tx failed: not the custodian', meta } })(req, '', res);
});
routes.set('/txs/batch', (_req, _body, res) => {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' });
  res.end(JSON.stringify({ error: { code: 'MEMPOOL_FULL', message: 'mempool is full' } }));
});
routes.set('/health', (_req, _body, res) => {
  res.writeHead(502, { 'content-type': 'text/html' });
  res.end('<html>bad gateway</html>');
});
routes.set('/validators', json(200, ['not', 'an', 'object']));
// Never answers: the client's timeout must end the call.
routes.set('/evidence', () => {});

const code =
  (c: string, check: (e: MedLedgerError) => void = () => {}) =>
  (e: unknown) => {
    assert.ok(e instanceof MedLedgerError, `expected a MedLedgerError, got ${String(e)}`);
    assert.equal(e.code, c);
    check(e);
    return true;
  };

test('a successful answer is returned as the JSON body', async () => {
  const client = new MedLedgerClient({ api: api + '/' });
  assert.deepEqual(await client.status(), { chainId: 'c1', height: 5 });
});

test("an error answer becomes a MedLedgerError with the body's code, message and meta", async () => {
  const client = new MedLedgerClient({ api });
  await assert.rejects(
    client.record('ab'.repeat(16)),
    code('NOT_FOUND', (e) => {
      assert.equal(e.message, 'record not found');
      assert.equal(e.meta.status, 404);
      assert.equal(e.meta.id, 'ab'.repeat(16));
    }),
  );
  await assert.rejects(
    client.submitTx(new Uint8Array([1, 2])),
    code('BAD_SIGNATURE', (e) => assert.equal(e.meta.status, 400)),
  );
  await assert.rejects(
    client.submitTx(new Uint8Array([1, 2]), { wait: 'commit' }),
    code('TX_FAILED', (e) => {
      assert.equal(e.meta.code, 2);
      assert.equal(e.meta.height, 9);
      assert.equal(e.meta.log, 'not the custodian');
    }),
  );
  const posts = seen.filter((s) => s.method === 'POST');
  assert.deepEqual(JSON.parse(posts.at(-1)!.body), { tx: '0102' });
});

test("a refused batch carries the node's Retry-After as meta.retryAfterMs", async () => {
  const client = new MedLedgerClient({ api });
  await assert.rejects(
    client.submitTxBatch([new Uint8Array([1, 2, 3])]),
    code('MEMPOOL_FULL', (e) => {
      assert.equal(e.meta.status, 503);
      assert.equal(e.meta.retryAfterMs, 2000);
    }),
  );
  // No header, no field: a caller cannot mistake a guess for the node's answer.
  await assert.rejects(
    client.record('ab'.repeat(16)),
    code('NOT_FOUND', (e) => assert.equal('retryAfterMs' in e.meta, false)),
  );
});

test('an answer that is not the documented JSON is BAD_RESPONSE', async () => {
  const client = new MedLedgerClient({ api });
  await assert.rejects(
    client.health(),
    code('BAD_RESPONSE', (e) => assert.equal(e.meta.status, 502)),
  );
  await assert.rejects(client.validators(), code('BAD_RESPONSE'));
});

test('no answer within the timeout is TIMEOUT; a caller abort is ABORTED', async () => {
  const client = new MedLedgerClient({ api, timeoutMs: 150 });
  const t0 = Date.now();
  await assert.rejects(client.evidence(), code('TIMEOUT'));
  assert.ok(Date.now() - t0 < 2000);
  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 50);
  await assert.rejects(client.evidence({}, { signal: ctl.signal, timeoutMs: 5000 }), code('ABORTED'));
});

test('nothing listening is UNREACHABLE', async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const client = new MedLedgerClient({ api: `http://127.0.0.1:${port}` });
  await assert.rejects(
    client.status(),
    code('UNREACHABLE', (e) => assert.match(e.message, /ECONNREFUSED/)),
  );
});

test('query parameters and path segments are encoded; bad arguments fail before a call', async () => {
  const client = new MedLedgerClient({ api });
  await assert.rejects(client.records({ patient: 'p 1', type: 'Observation', since: 10, limit: 5 }), code('NOT_FOUND'));
  assert.equal(seen.at(-1)!.url, '/records?patient=p+1&type=Observation&since=10&limit=5');
  await assert.rejects(client.consents('a/b'), code('NOT_FOUND'));
  assert.equal(seen.at(-1)!.url, '/patients/a%2Fb/consents');
  assert.throws(() => client.block(0), code('INVALID_ARGUMENT'));
  assert.throws(() => new MedLedgerClient({ api: 'ftp://x' }), code('INVALID_ARGUMENT'));
  assert.throws(() => new MedLedgerClient({ api: 'not a url' }), code('INVALID_ARGUMENT'));
});
