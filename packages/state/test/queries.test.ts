import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TxCode, type RecordQuery, type RecordView } from '../src/index.js';
import { anchor, Chain, grant, hospital, id, insurer, lab, register, signerFrom, type TestOrg } from './helpers.js';

const P1 = id(1);
const P2 = id(2);
const TYPES = ['Observation', 'DiagnosticReport', 'MedicationRequest'];
const AUTHORS: TestOrg[] = [hospital, lab, insurer];

describe('record queries', () => {
  let chain: Chain;
  /** What the index should hold: every anchored record. */
  const model: { id: string; patient: string; author: string; type: string; createdAt: number }[] = [];

  before(async () => {
    chain = await Chain.create();
    await chain.block([
      chain.tx(hospital.org, 'patient.register', register(P1)),
      chain.tx(hospital.org, 'patient.register', register(P2)),
    ]);
    // 8 blocks of 12 records; ids are not in time order, so ties within a block sort by id.
    let n = 0;
    for (let b = 0; b < 8; b++) {
      const txs = [];
      for (let i = 0; i < 12; i++, n++) {
        const recordId = id(0x1000 + ((n * 37) % 97) * 16 + b);
        const author = AUTHORS[n % 3]!;
        const patient = n % 4 === 0 ? P2 : P1;
        const type = TYPES[(n >> 1) % 3]!;
        txs.push(chain.tx(author.org, 'record.anchor', anchor(recordId, patient, type)));
        model.push({ id: recordId, patient, author: author.id, type, createdAt: chain.time + 1000 });
      }
      const { results } = await chain.block(txs);
      assert.ok(results.every((r) => r.code === TxCode.Ok));
    }
    model.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
  });
  after(() => chain.destroy());

  async function all(q: RecordQuery): Promise<RecordView[]> {
    const out: RecordView[] = [];
    let cursor = q.cursor;
    for (let pages = 0; pages < 200; pages++) {
      const page = await chain.state.query.records({ ...q, cursor });
      assert.ok(page.items.length <= (q.limit ?? 50));
      out.push(...page.items);
      if (page.next === null) return out;
      assert.equal(page.items.length, q.limit ?? 50, 'only the last page is short');
      cursor = page.next;
    }
    throw new Error('too many pages');
  }

  const expected = (f: (r: (typeof model)[number]) => boolean) => model.filter(f).map((r) => r.id);

  test('every filter combination returns the matching records in time order', async () => {
    const t0 = model[0]!.createdAt;
    const cases: [RecordQuery, (r: (typeof model)[number]) => boolean][] = [
      [{ patient: P1 }, (r) => r.patient === P1],
      [{ patient: P2, type: 'Observation' }, (r) => r.patient === P2 && r.type === 'Observation'],
      [{ patient: P1, author: 'lab-b' }, (r) => r.patient === P1 && r.author === 'lab-b'],
      [
        { patient: P1, author: 'lab-b', type: 'DiagnosticReport' },
        (r) => r.patient === P1 && r.author === 'lab-b' && r.type === 'DiagnosticReport',
      ],
      [{ author: 'hospital-a' }, (r) => r.author === 'hospital-a'],
      [
        { author: 'insurer-c', type: 'MedicationRequest' },
        (r) => r.author === 'insurer-c' && r.type === 'MedicationRequest',
      ],
      [{ type: 'Observation' }, (r) => r.type === 'Observation'],
      [
        { patient: P1, since: t0 + 2000, until: t0 + 4000 },
        (r) => r.patient === P1 && r.createdAt >= t0 + 2000 && r.createdAt <= t0 + 4000,
      ],
      [{ type: 'Observation', since: t0 + 5000 }, (r) => r.type === 'Observation' && r.createdAt >= t0 + 5000],
      [{ author: 'lab-b', until: t0 + 1000 }, (r) => r.author === 'lab-b' && r.createdAt <= t0 + 1000],
      [{ patient: id(3) }, () => false],
      [{ patient: P1, since: t0 + 4000, until: t0 + 3000 }, () => false],
    ];
    for (const [q, f] of cases) {
      const want = expected(f);
      for (const limit of [undefined, 1, 7]) {
        const got = await all({ ...q, limit });
        assert.deepEqual(
          got.map((r) => r.id),
          want,
          `${JSON.stringify(q)} limit ${limit}`,
        );
      }
    }
    assert.ok(expected((r) => r.patient === P1).length > 50, 'the default page is exercised');
  });

  test('a page of records carries the full views', async () => {
    const page = await chain.state.query.records({ patient: P2, limit: 2 });
    assert.equal(page.items.length, 2);
    const first = page.items[0]!;
    assert.deepEqual(first, await chain.state.query.record(first.id));
    assert.equal(first.patient, P2);
    assert.equal(typeof page.next, 'string');
  });

  test('a cursor stays valid while new records are committed after it', async () => {
    const page = await chain.state.query.records({ author: 'lab-b', limit: 5 });
    await chain.run(lab.org, 'record.anchor', anchor(id(0x9999), P1));
    const rest = await all({ author: 'lab-b', cursor: page.next! });
    assert.deepEqual(
      [...page.items, ...rest].map((r) => r.id),
      [...expected((r) => r.author === 'lab-b'), id(0x9999)],
    );
  });

  test('limits are clamped to the maximum; malformed queries and cursors are refused', async () => {
    const big = await chain.state.query.records({ type: 'Observation', limit: 10_000 });
    assert.ok(big.items.length <= 500);
    const q = chain.state.query;
    await assert.rejects(q.records({}), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ since: 5 }), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ patient: 'P1' }), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ author: 'Bad Org' }), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ type: 'observation' }), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ patient: P1, limit: 0 }), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ patient: P1, limit: 1.5 }), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ patient: P1, since: -1 }), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.records({ patient: P1, cursor: 'nonsense' }), { code: 'STATE_INVALID_CURSOR' });
    const accessCursor = Buffer.from([2, ...new Uint8Array(20)]).toString('base64url');
    await assert.rejects(q.records({ patient: P1, cursor: accessCursor }), { code: 'STATE_INVALID_CURSOR' });
    await assert.rejects(q.accessByPatient(P1, { cursor: 'AQ' }), { code: 'STATE_INVALID_CURSOR' });
    await assert.rejects(q.accessByPatient('nope'), { code: 'STATE_INVALID_QUERY' });
    await assert.rejects(q.consentsByPatient(P1, -5), { code: 'STATE_INVALID_QUERY' });
  });
});

describe('consent and access lists', () => {
  let chain: Chain;
  const patient = signerFrom(700);
  const P = id(50);
  let t1 = 0;

  before(async () => {
    chain = await Chain.create();
    await chain.block([
      chain.tx(patient, 'patient.register', register(P, patient.publicKey)),
      chain.tx(hospital.org, 'record.anchor', anchor(id(60), P)),
    ]);
    t1 = chain.time + 1000;
    await chain.block([
      chain.tx(patient, 'consent.grant', grant(id(70), P, 'lab-b')),
      chain.tx(patient, 'consent.grant', grant(id(71), P, 'insurer-c', undefined, 'billing', t1 + 5000)),
    ]);
    await chain.block([
      chain.tx(patient, 'consent.grant', grant(id(72), P, 'lab-b', { records: [id(60)] }, 'research')),
      chain.tx(patient, 'consent.revoke', { consent: id(70) }),
    ]);
    const txs = [];
    for (let i = 0; i < 25; i++)
      txs.push(
        chain.tx(lab.org, 'access.log', { record: id(60), purpose: 'research', consent: id(72), breakGlass: null }),
      );
    const { results } = await chain.block(txs);
    assert.ok(results.every((r) => r.code === TxCode.Ok));
    await chain.block([
      chain.tx(insurer.org, 'access.log', { record: id(60), purpose: 'billing', consent: id(71), breakGlass: null }),
    ]);
  });
  after(() => chain.destroy());

  test('consents by patient and by grantee, with status as of a given time', async () => {
    const q = chain.state.query;
    const atGrant = await q.consentsByPatient(P, t1);
    assert.deepEqual(
      atGrant.map((c) => [c.id, c.status]),
      [
        [id(70), 'revoked'],
        [id(71), 'active'],
        [id(72), 'active'],
      ],
    );
    const later = await q.consentsByPatient(P, t1 + 5000);
    assert.equal(later.find((c) => c.id === id(71))!.status, 'expired');
    assert.deepEqual(
      (await q.consentsByGrantee('lab-b', t1)).map((c) => c.id),
      [id(70), id(72)],
    );
    assert.deepEqual(await q.consentsByGrantee('hospital-a', t1), []);
    assert.deepEqual(await q.consentsByPatient(id(51), t1), []);
  });

  test('access events page with cursors, in time order then block position', async () => {
    const q = chain.state.query;
    const seen: string[] = [];
    let page = await q.accessByPatient(P, { limit: 10 });
    seen.push(...page.items.map((e) => e.tx));
    while (page.next) {
      page = await q.accessByPatient(P, { limit: 10, cursor: page.next });
      seen.push(...page.items.map((e) => e.tx));
    }
    assert.equal(seen.length, 26);
    assert.equal(new Set(seen).size, 26);
    const all = await q.accessByPatient(P, { limit: 500 });
    assert.deepEqual(
      all.items.map((e) => e.tx),
      seen,
    );
    assert.equal(all.items.at(-1)!.accessor, 'insurer-c');
    const byLab = await q.accessByAccessor('lab-b', { limit: 24 });
    assert.equal(byLab.items.length, 24);
    const rest = await q.accessByAccessor('lab-b', { cursor: byLab.next! });
    assert.equal(rest.items.length, 1);
    assert.equal(rest.next, null);
    assert.equal((await q.accessByPatient(P)).items.length, 26, 'default limit 50');
  });
});
