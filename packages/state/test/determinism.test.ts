import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Signer } from '@medledger/crypto';
import { bytesEqual, toHex, type TxPayloads, type TxType } from '@medledger/types';
import { nextAppHash, resultsHash, TxCode, writeSetHash, type DecodedTx } from '../src/index.js';
import {
  access,
  anchor,
  Chain,
  extraValidator,
  GENESIS_TIME,
  header,
  grant,
  hospital,
  id,
  insurer,
  lab,
  register,
  signerFrom,
  signTx,
  signVote,
  voteAt,
} from './helpers.js';

// A small world so random txs collide, depend on each other, and both pass and fail.
const PATIENT_KEYS = [signerFrom(900), signerFrom(901), signerFrom(902)];
const SIGNERS: Signer[] = [hospital.org, lab.org, insurer.org, hospital.node, ...PATIENT_KEYS];
const ORGS = ['hospital-a', 'lab-b', 'insurer-c', 'nobody'];
const TYPES = ['Observation', 'DiagnosticReport'];
const PURPOSES = ['treatment', 'research'];
const patientId = (i: number) => id(0x10 + i);
const recordId = (i: number) => id(0x100 + i);
const consentId = (i: number) => id(0x200 + i);

const weighted = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const op = fc.oneof(
  weighted(
    3,
    fc.record({
      kind: fc.constant('register' as const),
      signer: fc.nat(SIGNERS.length - 1),
      patient: fc.nat(3),
      account: fc.option(fc.nat(PATIENT_KEYS.length - 1)),
    }),
  ),
  weighted(
    3,
    fc.record({
      kind: fc.constant('anchor' as const),
      signer: fc.nat(3),
      record: fc.nat(7),
      patient: fc.nat(3),
      type: fc.nat(TYPES.length - 1),
      previous: fc.option(fc.nat(7)),
      content: fc.nat(255),
    }),
  ),
  weighted(
    2,
    fc.record({
      kind: fc.constant('grant' as const),
      /** null: the patient's controller signs (so grants often succeed). */
      signer: fc.option(fc.nat(SIGNERS.length - 1), { freq: 2 }),
      consent: fc.nat(5),
      patient: fc.nat(3),
      grantee: fc.nat(ORGS.length - 1),
      type: fc.nat(TYPES.length - 1),
      byRecord: fc.option(fc.nat(7)),
      purpose: fc.nat(PURPOSES.length - 1),
      expiresInBlocks: fc.nat(4),
    }),
  ),
  weighted(
    1,
    fc.record({
      kind: fc.constant('revoke' as const),
      /** null: the controller of patient `patient` signs. */
      signer: fc.option(fc.nat(SIGNERS.length - 1), { freq: 2 }),
      patient: fc.nat(3),
      consent: fc.nat(5),
    }),
  ),
  weighted(
    3,
    fc.record({
      kind: fc.constant('access' as const),
      signer: fc.nat(3),
      record: fc.nat(3),
      consent: fc.option(fc.nat(5)),
      purpose: fc.nat(PURPOSES.length - 1),
      /** Act as the grantee of the consent, for its purpose (so accesses often succeed). */
      follow: fc.boolean(),
    }),
  ),
  weighted(
    1,
    fc.record({
      kind: fc.constant('evidence' as const),
      signer: fc.nat(3),
      height: fc.integer({ min: 1, max: 3 }),
      byExtra: fc.boolean(),
    }),
  ),
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/**
 * Every scenario starts from the same prelude: patient 0 custodial at the hospital, patient 1
 * self-registered, patient 2 custodial at the lab with its own account, and three records.
 * Patient 3 and records 3..7 are left for the random txs.
 */
const CONTROLLERS: Signer[] = [hospital.org, PATIENT_KEYS[1]!, PATIENT_KEYS[2]!, hospital.org];
const PRELUDE: Op[] = [
  { kind: 'register', signer: 0, patient: 0, account: null },
  { kind: 'register', signer: 5, patient: 1, account: 1 },
  { kind: 'register', signer: 1, patient: 2, account: 2 },
  { kind: 'anchor', signer: 0, record: 0, patient: 0, type: 0, previous: null, content: 1 },
  { kind: 'anchor', signer: 0, record: 1, patient: 1, type: 1, previous: null, content: 2 },
  { kind: 'anchor', signer: 1, record: 2, patient: 2, type: 0, previous: null, content: 3 },
];

/** Each op plus whether it reuses its signer's last nonce (a replay, about one in ten). */
const replay = fc.nat(9).map((n) => n === 0);
const scenario = fc.array(fc.array(fc.record({ op, replay }), { maxLength: 10 }), {
  minLength: 1,
  maxLength: 5,
});
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

const BLOCK_MS = 1000;

type GrantSeen = { grantee: number; purpose: number };

function payloadOf(o: Op, blockIndex: number, grants: Map<number, GrantSeen>): [Signer, TxType, TxPayloads[TxType]] {
  switch (o.kind) {
    case 'register': {
      const account = o.account === null ? null : PATIENT_KEYS[o.account]!.publicKey;
      return [SIGNERS[o.signer]!, 'patient.register', register(patientId(o.patient), account)];
    }
    case 'anchor':
      return [
        SIGNERS[o.signer]!,
        'record.anchor',
        anchor(
          recordId(o.record),
          patientId(o.patient),
          TYPES[o.type],
          o.previous === null ? null : recordId(o.previous),
          o.content,
        ),
      ];
    case 'grant': {
      const scope = o.byRecord === null ? { types: [TYPES[o.type]!] } : { records: [recordId(o.byRecord)] };
      const expires = o.expiresInBlocks === 0 ? 0 : GENESIS_TIME + (blockIndex + 1 + o.expiresInBlocks) * BLOCK_MS;
      grants.set(o.consent, { grantee: o.grantee, purpose: o.purpose });
      return [
        o.signer === null ? CONTROLLERS[o.patient]! : SIGNERS[o.signer]!,
        'consent.grant',
        grant(consentId(o.consent), patientId(o.patient), ORGS[o.grantee]!, scope, PURPOSES[o.purpose], expires),
      ];
    }
    case 'revoke':
      return [
        o.signer === null ? CONTROLLERS[o.patient]! : SIGNERS[o.signer]!,
        'consent.revoke',
        { consent: consentId(o.consent) },
      ];
    case 'access': {
      const seen = o.consent === null ? undefined : grants.get(o.consent);
      const follow = o.follow && seen !== undefined && seen.grantee < 3;
      const signer = follow ? SIGNERS[seen.grantee]! : SIGNERS[o.signer]!;
      const purpose = PURPOSES[follow ? seen.purpose : o.purpose];
      return [
        signer,
        'access.log',
        o.consent === null
          ? access(recordId(o.record), null, purpose, 'emergency')
          : access(recordId(o.record), consentId(o.consent), purpose),
      ];
    }
    case 'evidence': {
      const v = o.byExtra ? extraValidator : lab.node;
      return [
        SIGNERS[o.signer]!,
        'evidence.submit',
        { voteA: signVote(v, voteAt(o.height, 1)), voteB: signVote(v, voteAt(o.height, 2)) },
      ];
    }
  }
}

/** Signs the scenario's txs; nonces per signer, a replay reuses the last one. */
function materialise(s: Scenario): DecodedTx[][] {
  const nonces = new Map<string, number>();
  const grants = new Map<number, GrantSeen>();
  const blocks = [PRELUDE.map((op) => ({ op, replay: false })), ...s];
  return blocks.map((block, b) =>
    block.map(({ op: o, replay }) => {
      const [signer, type, payload] = payloadOf(o, b, grants);
      const key = toHex(signer.publicKey);
      const last = nonces.get(key) ?? 0;
      const nonce = replay && last > 0 ? last : last + 1;
      nonces.set(key, nonce);
      return signTx(signer, type, payload, nonce);
    }),
  );
}

async function execute(blocks: DecodedTx[][]): Promise<{ appHashes: string[]; codes: number[][] }> {
  const chain = await Chain.create();
  try {
    const appHashes = [toHex(chain.state.appHash)];
    const codes: number[][] = [];
    for (const txs of blocks) {
      const exec = await chain.block(txs, BLOCK_MS);
      appHashes.push(toHex(exec.appHash));
      codes.push(exec.results.map((r) => r.code));
    }
    return { appHashes, codes };
  } finally {
    await chain.destroy();
  }
}

test('the same txs on two fresh databases give the same app hashes and results; any change gives another hash', async () => {
  let okResults = 0;
  let failedResults = 0;
  await fc.assert(
    fc.asyncProperty(scenario, fc.nat(), fc.nat(), async (s, pick, mutation) => {
      const blocks = materialise(s);
      const one = await execute(blocks);
      const two = await execute(blocks);
      assert.deepEqual(two, one);
      for (const c of one.codes.flat()) {
        if (c === TxCode.Ok) okResults++;
        else failedResults++;
      }

      // A variant: the txs of a non-empty block reversed, or one tx's content changed.
      const nonEmpty = blocks.map((txs, i) => [txs, i] as const).filter(([txs]) => txs.length > 0);
      fc.pre(nonEmpty.length > 0);
      const [txs, b] = nonEmpty[pick % nonEmpty.length]!;
      const variant = blocks.map((x) => [...x]);
      const distinct = new Set(txs.map((t) => toHex(t.hash))).size > 1;
      if (distinct && mutation % 2 === 0) {
        variant[b]!.reverse();
      } else {
        const i = mutation % txs.length;
        const t = txs[i]!.tx;
        // Same signer and nonce, different content: another anchor in place of the tx.
        const changed = anchor(recordId(11), patientId(mutation % 4), 'Observation', null, 1 + (mutation % 200));
        variant[b]![i] = signTx(
          SIGNERS.find((x) => bytesEqual(x.publicKey, t.from))!,
          'record.anchor',
          changed,
          t.nonce,
        );
        fc.pre(!bytesEqual(variant[b]![i]!.hash, txs[i]!.hash));
      }
      const other = await execute(variant);
      assert.notEqual(other.appHashes.at(-1), one.appHashes.at(-1));
    }),
    { numRuns: 40 },
  );
  // The generator must exercise both paths, or the property says little.
  assert.ok(okResults > 100 && failedResults > 100, `ok ${okResults}, failed ${failedResults}`);
});

test('the in-memory read cache never differs from the database: rounds that lose, restarts', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const blocks = materialise(s);
      const straight = await execute(blocks);
      // Each height first executes a block that is never committed (a lost round: the same txs
      // reversed, so it writes other values), then the real one; a second chain restarts (a
      // cold cache) before every block. All must agree with the plain run.
      const warm = await Chain.create();
      const cold = await Chain.create();
      try {
        for (const [i, txs] of blocks.entries()) {
          const lost = warm.db.createBatch();
          warm.state.executeBlock(header(warm.state.height + 1, warm.time + BLOCK_MS), [...txs].reverse(), lost);
          const w = await warm.block(txs, BLOCK_MS);
          await cold.restart();
          const c = await cold.block(txs, BLOCK_MS);
          assert.equal(toHex(w.appHash), straight.appHashes[i + 1]);
          assert.equal(toHex(c.appHash), straight.appHashes[i + 1]);
        }
      } finally {
        await warm.destroy();
        await cold.destroy();
      }
    }),
    { numRuns: 25 },
  );
});

test('a restart resumes height and app hash, and execution continues identically', async () => {
  const [pk] = PATIENT_KEYS;
  const blocks: DecodedTx[][] = [
    [signTx(pk!, 'patient.register', register(patientId(0), pk!.publicKey), 1)],
    [signTx(hospital.org, 'record.anchor', anchor(recordId(0), patientId(0)), 1)],
    [signTx(pk!, 'consent.grant', grant(consentId(0), patientId(0), 'lab-b'), 2)],
    [signTx(lab.org, 'access.log', access(recordId(0), consentId(0)), 1)],
    [],
  ];
  const straight = await execute(blocks);

  const chain = await Chain.create();
  try {
    const hashes = [toHex(chain.state.appHash)];
    for (const [i, txs] of blocks.entries()) {
      if (i === 2 || i === 4) {
        const before = { height: chain.state.height, appHash: chain.state.appHash };
        await chain.restart();
        assert.equal(chain.state.height, before.height);
        assert.deepEqual(chain.state.appHash, before.appHash);
      }
      const exec = await chain.block(txs, BLOCK_MS);
      assert.ok(exec.results.every((r) => r.code === TxCode.Ok));
      hashes.push(toHex(exec.appHash));
    }
    assert.deepEqual(hashes, straight.appHashes);
    await chain.restart();
    assert.equal(chain.state.height, 5);
    assert.equal(toHex(chain.state.appHash), straight.appHashes.at(-1));
    // Committed data and the index survive too.
    assert.equal((await chain.state.query.accessByPatient(patientId(0))).items.length, 1);
  } finally {
    await chain.destroy();
  }
});

test('the write-set hash ignores write order and sees every key, value and delete', () => {
  const key = (n: number) => new Uint8Array([0x10, n]);
  const writes = [
    { key: key(3), value: new Uint8Array([1]) },
    { key: key(1), value: new Uint8Array([2]) },
    { key: key(2), value: null },
  ];
  const h = writeSetHash(writes);
  assert.deepEqual(writeSetHash([...writes].reverse()), h);
  assert.deepEqual(writeSetHash([writes[1]!, writes[2]!, writes[0]!]), h);
  assert.notDeepEqual(writeSetHash([...writes.slice(0, 2), { key: key(2), value: new Uint8Array(0) }]), h);
  assert.notDeepEqual(writeSetHash(writes.slice(0, 2)), h);
  assert.notDeepEqual(writeSetHash([{ key: key(3), value: new Uint8Array([9]) }, ...writes.slice(1)]), h);
  // Index writes (bucket 0x11) are not part of the commitment.
  assert.deepEqual(writeSetHash([...writes, { key: new Uint8Array([0x11, 1]), value: new Uint8Array([1]) }]), h);

  const hashes = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
  const ok = { code: TxCode.Ok, log: '' };
  const bad = { code: TxCode.BadNonce, log: 'x' };
  assert.notDeepEqual(resultsHash(hashes, [ok, bad]), resultsHash(hashes, [bad, ok]));
  assert.notDeepEqual(resultsHash(hashes, [ok, bad]), resultsHash([...hashes].reverse(), [ok, bad]));
  assert.deepEqual(resultsHash(hashes, [ok, bad]), resultsHash(hashes, [ok, { ...bad, log: 'other words' }]));
  const prev = new Uint8Array(32);
  assert.notDeepEqual(nextAppHash(prev, h, h), nextAppHash(new Uint8Array(32).fill(1), h, h));
});
