import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TxType, decodeBlock, encodeCanonical, encodeTx, toHex, txSignBytes, type Tx } from '@medledger/types';
import { Account, MedLedgerClient } from '@medledger/client';
import { generateKeyPair, keyFileInfo, readKeyFile, Signer, writeKeyFile, type SignedTx } from '@medledger/crypto';
import {
  cliJson,
  filesWithBytes,
  getJson,
  NodeProcess,
  postJson,
  randomBasePort,
  removeTestDir,
  runCli,
  status,
  tempDir,
  waitFor,
} from './helpers/harness.js';
import { randomId, submitTx, TestSigner } from './helpers/txs.js';

/** The committed location of every tx, once all of them are committed. */
function allCommitted(client: MedLedgerClient, txs: { hash: string }[], timeoutMs: number) {
  return waitFor(
    `${txs.length} txs to commit`,
    async () => {
      const found = await Promise.all(txs.map((t) => client.tx(t.hash).catch(() => undefined)));
      return found.every((t) => t !== undefined) ? found : undefined;
    },
    timeoutMs,
  );
}

describe('a one-validator node started through the CLI', () => {
  const dir = tempDir('solo');
  const home = join(dir, 'home');
  const port = randomBasePort();
  const api = `http://127.0.0.1:${port}`;
  const node = new NodeProcess('solo', home, api);
  // A document with a recognisable marker: it must never reach the node's disk or logs.
  const marker = `Jane Roe, DOB 1970-01-01, marker ${randomId()}`;
  const document = JSON.stringify({ resourceType: 'Observation', status: 'final', subject: { display: marker } });
  let chainId = '';

  before(async () => {
    const init = cliJson(['init', '--home', home, '--api-port', String(port), '--p2p-port', String(port + 1)]);
    // DESIGN §7: `init` then `start` with nothing else set; the keys are still encrypted at rest.
    assert.match(readFileSync(join(home, 'keys', 'node.key'), 'utf8'), /"crypto"/);
    assert.equal(init.api, api);
    node.start();
    chainId = (await node.waitReady()).chainId;
  });

  after(async () => {
    try {
      const code = await node.stop('SIGTERM');
      assert.equal(code, 0, `clean shutdown on SIGTERM, output: ${node.output.slice(-2000)}`);
    } finally {
      removeTestDir(dir);
    }
  });

  test('commits blocks on its own', async () => {
    const first = (await status(api)).height;
    await waitFor('two more blocks', async () => (await status(api)).height >= first + 2, 20_000);
  });

  test('a patient and a record added through the CLI are served by the record API', async (t) => {
    const patient = cliJson<{ patient: string; height: number }>(['patient', 'register', '--home', home]);
    assert.match(patient.patient, /^[0-9a-f]{32}$/);
    // Outside `home`: a later test scans home for the document's marker in the clear.
    const docDir = tempDir('doc');
    t.after(() => removeTestDir(docDir));
    const file = join(docDir, 'observation.json');
    writeFileSync(file, document);
    const added = cliJson<{ record: string; height: number }>([
      'record',
      'add',
      '--home',
      home,
      '--patient',
      patient.patient,
      '--type',
      'Observation',
      '--file',
      file,
    ]);
    const { record } = await getJson<{ record: Record<string, unknown> }>(`${api}/records/${added.record}`);
    assert.equal(record.patient, patient.patient);
    assert.equal(record.author, 'hospital-0');
    assert.equal(record.resourceType, 'Observation');
    // record add encrypts before anchoring (ADR 0006): the hash is of the ciphertext, never of the document.
    assert.notEqual(record.contentHash, createHash('sha256').update(document).digest('hex'));
    assert.equal(record.size, Buffer.byteLength(document) + 29);
    const held = await getJson<{ held: boolean }>(`${api}/records/${added.record}/document`);
    assert.equal(held.held, true);
    assert.equal(record.version, 1);
    const list = await getJson<{ records: { id: string }[]; next: string | null }>(
      `${api}/records?patient=${patient.patient}`,
    );
    assert.deepEqual(
      list.records.map((r) => r.id),
      [added.record],
    );
    const shown = cliJson<{ records: { id: string }[] }>([
      'records',
      'list',
      '--home',
      home,
      '--patient',
      patient.patient,
    ]);
    assert.deepEqual(
      shown.records.map((r) => r.id),
      [added.record],
    );
  });

  test('a custodial patient takes the account over; then the patient key grants consent and the custodian cannot', (t) => {
    const patient = cliJson<{ patient: string }>(['patient', 'register', '--home', home]).patient;
    const keyDir = tempDir('claim');
    t.after(() => removeTestDir(keyDir));
    const key = join(keyDir, 'patient.key');
    cliJson(['keys', 'generate', '--out', key]);
    const claimed = cliJson<{ account: string }>([
      'patient',
      'claim',
      '--home',
      home,
      '--id',
      patient,
      '--patient-key',
      key,
    ]);
    const shown = cliJson<{ patient: { account: string | null; custodian: string | null } }>([
      'patient',
      'show',
      '--home',
      home,
      '--id',
      patient,
    ]);
    assert.deepEqual([shown.patient.account, shown.patient.custodian], [claimed.account, null]);
    const grant = ['consent', 'grant', '--patient', patient, '--grantee', 'hospital-0', '--types', 'Observation'];
    const byOrg = runCli([...grant, '--purpose', 'treatment', '--home', home, '--json']);
    assert.equal(byOrg.status, 1);
    assert.match(byOrg.stderr, /Unauthorized|UNAUTHORIZED|TX_FAILED/);
    cliJson([...grant, '--purpose', 'treatment', '--key', key, '--api', api]);
    // A purpose outside the purpose-of-use codes is refused before anything is signed.
    const slug = runCli([...grant, '--purpose', 'john-doe-hiv', '--key', key, '--api', api, '--json']);
    assert.equal(slug.status, 1);
    assert.doesNotMatch(slug.stderr, /john/);
  });

  test('bad input gets a 4xx with a machine-readable code and the node keeps committing', async () => {
    const before = (await status(api)).height;
    const post = async (body: unknown, path = '/txs') => postJson(`${api}${path}`, body);
    const code = (r: { body: Record<string, unknown> }) => (r.body.error as { code: string }).code;

    const malformed = await post('{"tx": "ab"');
    assert.equal(malformed.status, 400);
    assert.equal(code(malformed), 'BAD_JSON');

    for (const wrong of [{ tx: 5 }, { tx: ['ab'] }, { tx: 'xyz' }, {}, { tx: 'ab', extra: 1 }]) {
      const r = await post(wrong);
      assert.equal(r.status, 400, JSON.stringify(wrong));
      assert.equal(code(r), 'INVALID_REQUEST', JSON.stringify(wrong));
    }

    const oversize = await post({ tx: 'ab'.repeat(1024 * 1024) });
    assert.equal(oversize.status, 413);
    assert.equal(code(oversize), 'BODY_TOO_LARGE');

    const signer = new TestSigner(join(home, 'keys', 'org.key'), chainId, Date.now());
    const good = signer.registerPatient();
    const forged = encodeTx({ ...good.tx, signature: good.tx.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) });
    const badSig = await post({ tx: toHex(forged) });
    assert.equal(badSig.status, 400);
    assert.equal(code(badSig), 'BAD_SIGNATURE');

    const committed = await submitTx(api, good);
    assert.equal(committed.status, 200, JSON.stringify(committed.body));
    const replay = await submitTx(api, good, false);
    assert.equal(replay.status, 400);
    assert.equal(code(replay), 'BAD_NONCE');
    const sameNonce = signer.registerPatient();
    const reused = signer.sign(
      TxType.PatientRegister,
      { patient: randomId(), account: null, encKey: null },
      good.tx.nonce,
    );
    assert.equal(code(await submitTx(api, reused, false)), 'BAD_NONCE');
    assert.equal((await submitTx(api, sameNonce)).status, 200);

    const unknown = { ...good.tx, type: 'wire.transfer', nonce: good.tx.nonce + 100 } as unknown as Tx;
    const unknownSigned = encodeTx({ ...unknown, signature: signer.signer.sign(txSignBytes(unknown)) });
    const unknownType = await post({ tx: toHex(unknownSigned) });
    assert.equal(unknownType.status, 400);
    assert.equal(code(unknownType), 'UNKNOWN_TX_TYPE');

    const otherChain = new TestSigner(
      join(home, 'keys', 'org.key'),
      'another-chain',
      Date.now() + 1000,
    ).registerPatient();
    assert.equal(code(await submitTx(api, otherChain, false)), 'WRONG_CHAIN');

    const notFound = await fetch(`${api}/records/${randomId()}`);
    assert.equal(notFound.status, 404);
    assert.equal(((await notFound.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');

    await waitFor('the node to keep committing', async () => (await status(api)).height >= before + 2, 20_000);
  });

  test('a batch of txs is taken in order with a result per tx; bad batches get a 4xx', async () => {
    const batch = async (body: Uint8Array | string, type = 'application/cbor') => {
      const res = await fetch(`${api}/txs/batch`, {
        method: 'POST',
        headers: { 'content-type': type },
        body,
        signal: AbortSignal.timeout(5000),
      });
      return { status: res.status, code: ((await res.json()) as { error: { code: string } }).error.code };
    };
    const signer = new TestSigner(join(home, 'keys', 'org.key'), chainId, Date.now());
    const valid = Array.from({ length: 5 }, () => signer.registerPatient());
    const [r0, r1, r2, r3, r4] = valid as [SignedTx, SignedTx, SignedTx, SignedTx, SignedTx];
    const forged = encodeTx({ ...r2.tx, signature: r2.tx.signature.map((b) => b ^ 1) });
    const sameNonce = signer.sign(
      TxType.PatientRegister,
      { patient: randomId(), account: null, encKey: null },
      r1.tx.nonce,
    );

    assert.deepEqual(await batch(JSON.stringify({ tx: toHex(r0.bytes) }), 'application/json'), {
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    const bad: [string, Uint8Array, string][] = [
      ['garbage', encodeCanonical([r0.bytes]).subarray(0, 20), 'ENCODING_INVALID'],
      ['not an array', encodeCanonical({ txs: [r0.bytes] }), 'INVALID_SHAPE'],
      ['empty', encodeCanonical([]), 'BATCH_SIZE'],
      ['too many', encodeCanonical(Array.from({ length: 1001 }, () => r0.bytes)), 'BATCH_SIZE'],
      ['hex, not bytes', encodeCanonical([r0.bytes, toHex(r0.bytes)]), 'INVALID_SHAPE'],
    ];
    for (const [what, body, code] of bad) assert.deepEqual(await batch(body), { status: 400, code }, what);

    const client = new MedLedgerClient({ api });
    // r1 twice: a tx already pending is taken again without error, as `POST /txs` does.
    const sent = [r0.bytes, r1.bytes, forged, r2.bytes, r1.bytes, sameNonce.bytes, r3.bytes, r4.bytes];
    const { results } = await client.submitTxBatch(sent);
    assert.deepEqual(
      results.map((r) => [r.hash, r.accepted ? 'accepted' : r.error.code]),
      [
        [r0.hash, 'accepted'],
        [r1.hash, 'accepted'],
        [createHash('sha256').update(forged).digest('hex'), 'BAD_SIGNATURE'],
        [r2.hash, 'accepted'],
        [r1.hash, 'accepted'],
        [sameNonce.hash, 'BAD_NONCE'],
        [r3.hash, 'accepted'],
        [r4.hash, 'accepted'],
      ],
    );

    const committed = await allCommitted(client, valid, 10_000);
    // Committing after the bad batches is the node carrying on; an empty block takes seconds here.
    assert.ok(committed.every((t) => t.code === 0));
    const positions = committed.map((t) => t.height * 1e6 + t.index);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      'committed in nonce order',
    );

    // The same block as its canonical bytes, for a client that checks the hashes itself.
    const height = committed[0]!.height;
    const cbor = await fetch(`${api}/blocks/${height}`, { headers: { accept: 'application/cbor' } });
    assert.equal(cbor.headers.get('content-type'), 'application/cbor');
    const raw = decodeBlock(new Uint8Array(await cbor.arrayBuffer()));
    const json = await getJson<{ header: { height: number; txRoot: string }; txs: { hash: string }[] }>(
      `${api}/blocks/${height}`,
    );
    assert.equal(raw.header.height, height);
    assert.equal(toHex(raw.header.txRoot), json.header.txRoot);
    assert.deepEqual(
      raw.txs.map((t) => createHash('sha256').update(t).digest('hex')),
      json.txs.map((t) => t.hash),
    );
    assert.ok(raw.txs.some((t) => toHex(t) === toHex(r0.bytes)));
    const missing = await fetch(`${api}/blocks/${height + 1000}`, { headers: { accept: 'application/cbor' } });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
  });

  test('a waited-for tx that can no longer commit is answered at once, not at the wait timeout', async () => {
    const signer = new TestSigner(join(home, 'keys', 'org.key'), chainId, Date.now());
    const client = new MedLedgerClient({ api });
    let answer: { status: number; body: Record<string, unknown> } | undefined;
    // Two registrations of one patient id, taken together: both pass the check against committed
    // state; once one commits the other breaks a rule and leaves the pool, and its waiter learns
    // why at once. Should a block commit the first between the two requests, the second is
    // refused on arrival instead (nothing to wait for): that attempt is repeated.
    for (let attempt = 0; attempt < 5 && answer?.status !== 422; attempt++) {
      const patient = randomId();
      const [first, again] = [signer.registerPatient(patient), signer.registerPatient(patient)];
      const { results } = await client.submitTxBatch([first!.bytes, again!.bytes]);
      assert.ok(results.every((r) => r.accepted));
      answer = await postJson(`${api}/txs?wait=commit`, { tx: toHex(again!.bytes) });
      if (answer.status !== 422) assert.equal((answer.body.error as { code: string }).code, 'ALREADY_EXISTS');
      else assert.equal((answer.body.error as { meta: { hash: string } }).meta.hash, again!.hash);
    }
    const error = answer!.body.error as { code: string; meta: { log: string } };
    assert.equal(answer!.status, 422);
    assert.equal(error.code, 'TX_DROPPED');
    assert.match(error.meta.log, /already/);
  });

  test('txs arriving steadily fill blocks at most every minBlockIntervalMs, not one height per tx', async () => {
    const genesis = JSON.parse(readFileSync(join(home, 'config', 'genesis.json'), 'utf8')) as {
      params: { minBlockIntervalMs: number };
    };
    const interval = genesis.params.minBlockIntervalMs;
    assert.ok(interval > 0, 'the default chain paces its blocks');
    const signer = new TestSigner(join(home, 'keys', 'org.key'), chainId, Date.now() + 2000);
    const txs = Array.from({ length: 40 }, () => signer.registerPatient());
    for (const t of txs) {
      assert.equal((await submitTx(api, t, false)).status, 202);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const client = new MedLedgerClient({ api });
    const committed = await allCommitted(client, txs, 15_000);
    const heights = [...new Set(committed.map((t) => t.height))];
    // Each block holding these txs is at least one interval of block time after its parent.
    for (const h of heights) {
      const [block, parent] = await Promise.all([
        getJson<{ header: { time: number } }>(`${api}/blocks/${h}`),
        getJson<{ header: { time: number } }>(`${api}/blocks/${h - 1}`),
      ]);
      assert.ok(
        block.header.time - parent.header.time >= interval,
        `block ${h} came ${block.header.time - parent.header.time} ms after its parent`,
      );
    }
    // 40 txs over ≥ 400 ms would take a height each unpaced; paced, several share a block.
    assert.ok(heights.length < txs.length / 2, `${txs.length} txs took ${heights.length} blocks`);
  });

  test('a refused command exits with status 1 and one line on stderr', () => {
    const r = runCli(['record', 'show', '--api', api, '--id', randomId(), '--json']);
    assert.equal(r.status, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /NOT_FOUND/);
  });

  test('org rotate-key finishes a rotation that stopped after its commit, and refuses one the chain has not taken', async () => {
    const keyFile = join(home, 'keys', 'org.key');
    const pending = `${keyFile}.new`;
    const passphrase = readFileSync(join(home, 'keys', 'passphrase'), 'utf8').trim();
    const old = readKeyFile(keyFile, passphrase);
    // A rotation that died between its commit and the file swap: the new key file written, the
    // tx committed, the key file still the old one.
    const next = generateKeyPair();
    writeKeyFile(pending, next, passphrase);
    const account = await Account.connect(new Signer(old.secretKey), new MedLedgerClient({ api }));
    await account.send(TxType.OrgRotateKey, { newKey: next.publicKey }, { wait: 'commit' });
    const done = cliJson<{ orgKey: string; finished: boolean }>(['org', 'rotate-key', '--home', home]);
    assert.deepEqual(done, { ...done, orgKey: toHex(next.publicKey), finished: true });
    assert.equal(keyFileInfo(keyFile).publicKey, toHex(next.publicKey));
    assert.equal(keyFileInfo(`${keyFile}.retired`).publicKey, toHex(old.publicKey));
    assert.equal(existsSync(pending), false);
    // The new key signs for the organisation.
    cliJson(['patient', 'register', '--home', home]);

    // A leftover the chain never took: its tx may still be pending, so the operator decides.
    writeKeyFile(pending, generateKeyPair(), passphrase);
    const refused = runCli(['org', 'rotate-key', '--home', home, '--json']);
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /KEY_EXISTS/);
    assert.equal(keyFileInfo(keyFile).publicKey, toHex(next.publicKey));
    rmSync(pending);
  });

  test('no patient data in the clear in the data directory or the logs', async () => {
    const files = filesWithBytes(home);
    assert.ok(
      files.some((f) => f.path.endsWith('node.log')),
      'the node writes a log file',
    );
    assert.ok(
      files.some((f) => f.path.includes(join('data', 'ledger'))),
      'the node has a LevelDB',
    );
    const needles = [Buffer.from(marker), Buffer.from(document), Buffer.from('Jane Roe')];
    for (const { path, bytes } of files) {
      for (const needle of needles) assert.equal(bytes.indexOf(needle), -1, `${path} holds patient data`);
    }
  });
});
