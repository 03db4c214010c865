import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { MedLedgerError } from '@medledger/types';
import { StateErrorCode } from '@medledger/state';
import { apiServerOver } from './fixtures.js';

const PATIENT = 'ab'.repeat(16);

/** The API server over a node that has no blocks and answers every query with an empty page. */
function emptyNode(submitted: Uint8Array[] = []) {
  const ctx = {
    submitTx: (bytes: Uint8Array) => {
      submitted.push(bytes);
      return { hash: 'ab'.repeat(32) };
    },
    metrics: { apiRequestSeconds: { observe: () => undefined } },
    blocks: { getBlock: () => undefined, getBlockBytes: () => undefined, latestHeight: () => 0 },
    queries: {
      records: async () => ({ items: [], next: null }),
      accessByPatient: async () => ({ items: [], next: null }),
      evidence: async () => ({ items: [], next: null }),
      record: async () => {
        throw new MedLedgerError(StateErrorCode.CORRUPT, 'an index entry points to a missing record');
      },
      patient: async () => {
        throw new MedLedgerError('INTERNAL', 'internal error');
      },
    },
  };
  return apiServerOver(ctx);
}

test('integer path and query parameters take plain decimal digits only', async () => {
  const app = emptyNode();
  try {
    const get = async (url: string) => {
      const res = await app.inject({ method: 'GET', url });
      return { status: res.statusCode, ...(res.json() as { error?: { code: string; message: string } }) };
    };
    // What JavaScript would read as a number, and a number beyond the safe integers.
    for (const height of [
      '0x10',
      '1e3',
      '99999999999999999999999',
      '9007199254740993',
      '-1',
      '1.0',
      '+5',
      '%2016',
      '0',
    ]) {
      const res = await get(`/blocks/${height}`);
      assert.equal(res.status, 400, height);
      assert.equal(res.error?.code, 'INVALID_REQUEST', height);
      assert.match(res.error!.message, /^params\/height /, height);
    }
    assert.deepEqual(await get('/blocks/16'), {
      status: 404,
      error: { code: 'NOT_FOUND', message: 'block 16 not found' },
    });
    assert.equal((await get('/blocks/9007199254740991')).status, 404);

    const records = `/records?patient=${PATIENT}`;
    for (const query of ['limit=0x10', 'limit=1e1', 'since=1e12', 'until=0x1', 'limit=16&limit=17']) {
      const res = await get(`${records}&${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.error?.code, 'INVALID_REQUEST', query);
    }
    assert.equal((await get(`${records}&limit=16&since=0&until=1700000000000`)).status, 200);
    assert.equal((await get(`/patients/${PATIENT}/audit?limit=0x10`)).status, 400);
    assert.equal((await get(`/patients/${PATIENT}/audit?limit=16`)).status, 200);
    assert.equal((await get('/evidence?limit=501')).status, 400);
    assert.deepEqual(await get('/evidence?limit=16&cursor=AQ'), { status: 200, evidence: [], next: null });
  } finally {
    await app.close();
  }
});

/** Raw bytes to the server, and everything it answers until it closes the connection. */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.write(request);
  });
}

test('requests refused before any route runs get the documented error body, without echoing the request', async () => {
  const app = emptyNode();
  try {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as AddressInfo).port;
    const malformed = [
      // A body one byte longer than its Content-Length: the rest is no HTTP request.
      'POST /txs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n{"tx":"ab"}',
      'GET /status HTTP/1.1\r\nHost: x\r\nJane Doe\r\n\r\n',
    ];
    for (const request of malformed) {
      const answer = await rawExchange(port, request);
      assert.match(answer, /^HTTP\/1\.1 400 /);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as unknown;
      assert.deepEqual(body, { error: { code: 'INVALID_REQUEST', message: 'malformed HTTP request' } });
    }
    const badUrl = await app.inject({ method: 'GET', url: '/records/%E0%A4%AJane' });
    assert.equal(badUrl.statusCode, 400);
    assert.deepEqual(badUrl.json(), { error: { code: 'INVALID_REQUEST', message: 'the URL is not valid' } });
  } finally {
    await app.close();
  }
});

test('a JSON route sent another media type, text/plain included, is 415 UNSUPPORTED_MEDIA_TYPE', async () => {
  const submitted: Uint8Array[] = [];
  const app = emptyNode(submitted);
  try {
    for (const type of ['text/plain', 'application/xml']) {
      const res = await app.inject({
        method: 'POST',
        url: '/txs',
        headers: { 'content-type': type },
        payload: JSON.stringify({ tx: 'ab' }),
      });
      assert.equal(res.statusCode, 415, type);
      assert.equal(res.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
    }
    assert.equal(submitted.length, 0);
  } finally {
    await app.close();
  }
});

test('POST /txs: a tx over 16 KiB is TOO_LARGE, as in a batch', async () => {
  const submitted: Uint8Array[] = [];
  const app = emptyNode(submitted);
  try {
    const post = (bytes: number) => app.inject({ method: 'POST', url: '/txs', payload: { tx: 'ab'.repeat(bytes) } });
    const over = await post(16 * 1024 + 1);
    assert.equal(over.statusCode, 400);
    assert.equal(over.json().error.code, 'TOO_LARGE');
    assert.equal(submitted.length, 0);
    // At the limit the tx goes on to the mempool's checks.
    assert.equal((await post(16 * 1024)).statusCode, 202);
    assert.equal(submitted.length, 1);
  } finally {
    await app.close();
  }
});

test("the node's own faults are 500, not a client error", async () => {
  const app = emptyNode();
  try {
    for (const [url, code] of [
      [`/records/${PATIENT}`, StateErrorCode.CORRUPT],
      [`/patients/${PATIENT}`, 'INTERNAL'],
    ]) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 500, url);
      assert.equal(res.json().error.code, code, url);
    }
  } finally {
    await app.close();
  }
});
