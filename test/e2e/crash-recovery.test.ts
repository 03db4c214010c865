import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  cliJson,
  getJson,
  NodeProcess,
  randomBasePort,
  removeTestDir,
  status,
  tempDir,
  waitFor,
} from './helpers/harness.js';
import { submitTx, TestSigner } from './helpers/txs.js';

const dir = tempDir('crash');
const home = join(dir, 'home');
const port = randomBasePort();
const api = `http://127.0.0.1:${port}`;
const node = new NodeProcess('crash', home, api);

before(async () => {
  // Plain keys are opt-in since init encrypts by default (ADR 0003).
  cliJson([
    'init',
    '--home',
    home,
    '--api-port',
    String(port),
    '--p2p-port',
    String(port + 1),
    '--insecure-plain-keys',
  ]);
  node.start();
  await node.waitReady();
});

after(async () => {
  try {
    await node.stop('SIGKILL');
  } finally {
    removeTestDir(dir);
  }
});

interface Acked {
  hash: string;
  height: number;
  record: string;
}

test('kill -9 under a stream of txs loses no acknowledged tx, and the index agrees with the blocks', async () => {
  const { chainId } = await status(api);
  const signer = new TestSigner(join(home, 'keys', 'org.key'), chainId);
  const registered = signer.registerPatient();
  assert.equal((await submitTx(api, registered)).status, 200);
  const patient = registered.tx.payload.patient;

  // Eight writers send record anchors and wait for each commit; every 200 is an acknowledgement.
  const acked: Acked[] = [];
  let killed = false;
  const writer = async () => {
    while (!killed) {
      const tx = signer.anchorRecord(patient);
      try {
        const r = await submitTx(api, tx);
        if (r.status === 200)
          acked.push({ hash: tx.hash, height: r.body.height as number, record: tx.tx.payload.record });
      } catch {
        return; // the node is gone
      }
    }
  };
  const writers = Array.from({ length: 8 }, writer);
  await waitFor('a stream of acknowledged txs', () => acked.length >= 200, 60_000);
  const heightBeforeKill = (await status(api)).height;
  node.signal('SIGKILL');
  killed = true;
  await Promise.all(writers);
  await node.stop('SIGKILL');

  node.start();
  await node.waitReady();
  const restarted = await status(api);
  assert.ok(restarted.height >= heightBeforeKill, `height ${restarted.height} went back from ${heightBeforeKill}`);

  // Every acknowledged tx is committed once, at the height it was acknowledged with.
  for (const a of acked) {
    const found = await getJson<{ height: number; code: number }>(`${api}/txs/${a.hash}`);
    assert.equal(found.height, a.height, `tx ${a.hash}`);
    assert.equal(found.code, 0);
  }

  // Heights continue and new txs commit after the restart.
  const after = signer.anchorRecord(patient);
  const r = await submitTx(api, after);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.ok((r.body.height as number) > heightBeforeKill);

  // The record index agrees with the blocks: every anchor in a block is indexed at that height, once.
  const top = (await status(api)).height;
  const inBlocks = new Map<string, number>();
  const seenTxs = new Set<string>();
  for (let h = 1; h <= top; h++) {
    const block = await getJson<{ txs: { hash: string; type: string; payload: { record?: string } }[] }>(
      `${api}/blocks/${h}`,
    );
    for (const tx of block.txs) {
      assert.ok(!seenTxs.has(tx.hash), `tx ${tx.hash} committed twice`);
      seenTxs.add(tx.hash);
      if (tx.type === 'record.anchor') inBlocks.set(tx.payload.record!, h);
    }
  }
  for (const a of acked) assert.equal(inBlocks.get(a.record), a.height);
  const indexed = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const page: { records: { id: string; height: number }[]; next: string | null } = await getJson(
      `${api}/records?patient=${patient}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    for (const rec of page.records) indexed.set(rec.id, rec.height);
    cursor = page.next;
  } while (cursor);
  assert.deepEqual(new Map([...indexed].sort()), new Map([...inBlocks].sort()));
});
