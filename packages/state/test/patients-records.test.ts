import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { addressHex, signPatientClaim } from '@medledger/crypto';
import { toHex } from '@medledger/types';
import { TxCode } from '../src/index.js';
import { anchor, Chain, CHAIN_ID, hospital, id, insurer, lab, register, signerFrom, signTx } from './helpers.js';

describe('nonces and chain id', () => {
  let chain: Chain;
  before(async () => (chain = await Chain.create()));
  after(() => chain.destroy());

  test('a replayed tx gets BadNonce and changes nothing', async () => {
    const tx = chain.tx(hospital.org, 'patient.register', register(id(1)));
    assert.equal((await chain.block([tx])).results[0]!.code, TxCode.Ok);
    const replay = await chain.block([tx]);
    assert.deepEqual(replay.results[0], { code: TxCode.BadNonce, log: 'nonce is not above the last one used' });
    assert.equal((await chain.state.query.account(addressHex(hospital.org.publicKey)))!.nonce, 1);
  });

  test('nonces must increase, gaps allowed; within a block too', async () => {
    const s = signerFrom(100);
    const txs = [
      signTx(s, 'patient.register', register(id(2), s.publicKey), 5),
      signTx(s, 'patient.register', register(id(3), s.publicKey), 5),
      signTx(s, 'patient.register', register(id(4), s.publicKey), 4),
      signTx(s, 'patient.register', register(id(5), s.publicKey), 9),
    ];
    const { results } = await chain.block(txs);
    assert.deepEqual(
      results.map((r) => r.code),
      [TxCode.Ok, TxCode.BadNonce, TxCode.BadNonce, TxCode.Ok],
    );
    assert.deepEqual(await chain.state.query.account(addressHex(s.publicKey)), { nonce: 9 });
    assert.equal(await chain.state.query.account('zz'), undefined);
  });

  test('a tx that fails a rule still consumes its nonce', async () => {
    const s = signerFrom(101);
    const bad = signTx(s, 'patient.register', register(id(6), signerFrom(102).publicKey), 1);
    assert.equal((await chain.block([bad])).results[0]!.code, TxCode.Unauthorized);
    assert.deepEqual(await chain.state.query.account(addressHex(s.publicKey)), { nonce: 1 });
    const fixed = signTx(s, 'patient.register', register(id(6), s.publicKey), 1);
    assert.equal((await chain.block([fixed])).results[0]!.code, TxCode.BadNonce);
    assert.equal(await chain.state.query.patient(id(6)), undefined);
  });

  test('a tx for another chain gets WrongChain and does not consume its nonce', async () => {
    const s = signerFrom(103);
    const wrong = signTx(s, 'patient.register', register(id(7), s.publicKey), 1, 'other-chain');
    assert.equal((await chain.block([wrong])).results[0]!.code, TxCode.WrongChain);
    assert.equal(await chain.state.query.account(addressHex(s.publicKey)), undefined);
    assert.equal(chain.state.checkTx(wrong.tx).code, TxCode.WrongChain);
  });

  test('checkTx applies committed nonce and pending nonce and changes nothing', async () => {
    const s = signerFrom(104);
    const tx = signTx(s, 'patient.register', register(id(8), s.publicKey), 3).tx;
    const before = chain.state.appHash;
    assert.equal(chain.state.checkTx(tx).code, TxCode.Ok);
    assert.equal(chain.state.checkTx(tx, 2).code, TxCode.Ok);
    assert.equal(chain.state.checkTx(tx, 3).code, TxCode.BadNonce);
    assert.equal(chain.state.checkTx(tx, 7).code, TxCode.BadNonce);
    assert.equal(await chain.state.query.account(addressHex(s.publicKey)), undefined);
    assert.equal(await chain.state.query.patient(id(8)), undefined);
    assert.deepEqual(chain.state.appHash, before);
    // And the full rules: an unknown patient fails in checkTx too.
    const orphan = signTx(hospital.org, 'record.anchor', anchor(id(9), id(999)), 1000).tx;
    assert.equal(chain.state.checkTx(orphan).code, TxCode.NotFound);
  });
});

describe('patient.register', () => {
  let chain: Chain;
  before(async () => (chain = await Chain.create()));
  after(() => chain.destroy());

  test('an org key registers custodially, with or without the patient account', async () => {
    assert.equal(await chain.run(hospital.org, 'patient.register', register(id(1))), TxCode.Ok);
    const p = (await chain.state.query.patient(id(1)))!;
    assert.deepEqual(p, { id: id(1), account: null, custodian: 'hospital-a', encKey: null, registeredAt: chain.time });
    const own = signerFrom(200);
    const enc = new Uint8Array(32).fill(9);
    assert.equal(
      await chain.run(lab.org, 'patient.register', { patient: id(2), account: own.publicKey, encKey: enc }),
      TxCode.Ok,
    );
    const q = (await chain.state.query.patient(id(2)))!;
    assert.equal(q.custodian, 'lab-b');
    assert.equal(q.account, addressHex(own.publicKey));
    assert.equal(q.encKey, toHex(enc));
  });

  test('a patient registers itself with its own key', async () => {
    const own = signerFrom(201);
    assert.equal(await chain.run(own, 'patient.register', register(id(3), own.publicKey)), TxCode.Ok);
    const p = (await chain.state.query.patient(id(3)))!;
    assert.equal(p.custodian, null);
    assert.equal(p.account, addressHex(own.publicKey));
  });

  test('self-registration for another account, or with no account, is refused', async () => {
    const own = signerFrom(202);
    assert.equal(
      await chain.run(own, 'patient.register', register(id(4), signerFrom(203).publicKey)),
      TxCode.Unauthorized,
    );
    assert.equal(await chain.run(own, 'patient.register', register(id(4))), TxCode.Unauthorized);
  });

  test('node keys do not register patients; member keys are not patient accounts', async () => {
    assert.equal(await chain.run(hospital.node, 'patient.register', register(id(5))), TxCode.Unauthorized);
    assert.equal(
      await chain.run(hospital.org, 'patient.register', register(id(5), lab.node.publicKey)),
      TxCode.Invalid,
    );
  });

  test('an id is registered once', async () => {
    assert.equal(await chain.run(insurer.org, 'patient.register', register(id(1))), TxCode.AlreadyExists);
    assert.equal((await chain.state.query.patient(id(1)))!.custodian, 'hospital-a');
    assert.equal(await chain.state.query.patient('not-an-id'), undefined);
  });
});

describe('patient.claim', () => {
  let chain: Chain;
  before(async () => (chain = await Chain.create()));
  after(() => chain.destroy());

  const claim = (patient: string, account = signerFrom(300), chainId = CHAIN_ID) => ({
    patient,
    ...signPatientClaim(account, chainId, patient),
  });

  test("the custodian hands a patient to the patient's own key, which then speaks for the patient", async () => {
    const own = signerFrom(300);
    assert.equal(await chain.run(hospital.org, 'patient.register', register(id(1))), TxCode.Ok);
    assert.equal(await chain.run(hospital.org, 'patient.claim', claim(id(1), own)), TxCode.Ok);
    const p = (await chain.state.query.patient(id(1)))!;
    assert.deepEqual([p.account, p.custodian], [addressHex(own.publicKey), null]);
    // The organisation no longer grants for the patient; the patient does.
    const grant = (consent: string) => ({
      consent,
      patient: id(1),
      grantee: 'lab-b',
      scope: { types: ['Observation'], records: [] },
      purpose: 'treatment',
      expires: 0,
    });
    assert.equal(await chain.run(hospital.org, 'consent.grant', grant(id(50))), TxCode.Unauthorized);
    assert.equal(await chain.run(own, 'consent.grant', grant(id(51))), TxCode.Ok);
    // Once only.
    assert.equal(await chain.run(hospital.org, 'patient.claim', claim(id(1), signerFrom(301))), TxCode.AlreadyExists);
  });

  test('only the custodian, only with the account signature for this chain and patient, never a member key', async () => {
    assert.equal(await chain.run(hospital.org, 'patient.register', register(id(2))), TxCode.Ok);
    assert.equal(await chain.run(lab.org, 'patient.claim', claim(id(2))), TxCode.Unauthorized);
    assert.equal(await chain.run(hospital.node, 'patient.claim', claim(id(2))), TxCode.Unauthorized);
    assert.equal(await chain.run(signerFrom(300), 'patient.claim', claim(id(2))), TxCode.Unauthorized);
    // A proof made for another patient or another chain does not verify.
    const stolen = { ...claim(id(1)), patient: id(2) };
    assert.equal(await chain.run(hospital.org, 'patient.claim', stolen), TxCode.Unauthorized);
    assert.equal(
      await chain.run(hospital.org, 'patient.claim', claim(id(2), signerFrom(300), 'other-chain')),
      TxCode.Unauthorized,
    );
    assert.equal(await chain.run(hospital.org, 'patient.claim', claim(id(2), lab.org)), TxCode.Invalid);
    assert.equal(await chain.run(hospital.org, 'patient.claim', claim(id(99))), TxCode.NotFound);
    assert.equal((await chain.state.query.patient(id(2)))!.custodian, 'hospital-a');
  });
});

describe('record.anchor', () => {
  let chain: Chain;
  const P = id(1);
  const Q = id(2);
  before(async () => {
    chain = await Chain.create();
    await chain.block([
      chain.tx(hospital.org, 'patient.register', register(P)),
      chain.tx(hospital.org, 'patient.register', register(Q)),
    ]);
  });
  after(() => chain.destroy());

  test('an org key anchors a first version at block time', async () => {
    assert.equal(await chain.run(hospital.org, 'record.anchor', anchor(id(10), P)), TxCode.Ok);
    assert.deepEqual(await chain.state.query.record(id(10)), {
      id: id(10),
      patient: P,
      author: 'hospital-a',
      resourceType: 'Observation',
      contentHash: '01'.repeat(32),
      size: 1024,
      version: 1,
      previous: null,
      createdAt: chain.time,
      height: chain.state.height,
    });
  });

  test('only org keys anchor', async () => {
    assert.equal(await chain.run(hospital.node, 'record.anchor', anchor(id(11), P)), TxCode.Unauthorized);
    assert.equal(await chain.run(signerFrom(300), 'record.anchor', anchor(id(11), P)), TxCode.Unauthorized);
  });

  test('the patient must exist and the id must be new', async () => {
    assert.equal(await chain.run(hospital.org, 'record.anchor', anchor(id(11), id(99))), TxCode.NotFound);
    assert.equal(await chain.run(lab.org, 'record.anchor', anchor(id(10), P)), TxCode.AlreadyExists);
  });

  test('amendments chain versions; history is never rewritten', async () => {
    assert.equal(
      await chain.run(hospital.org, 'record.anchor', anchor(id(12), P, 'Observation', id(10), 2)),
      TxCode.Ok,
    );
    assert.equal((await chain.state.query.record(id(12)))!.version, 2);
    assert.equal((await chain.state.query.record(id(12)))!.previous, id(10));
    // A second amendment of version 1 would fork the history.
    assert.equal(
      await chain.run(hospital.org, 'record.anchor', anchor(id(13), P, 'Observation', id(10), 3)),
      TxCode.AlreadyExists,
    );
    assert.equal(await chain.state.query.record(id(13)), undefined);
    // Amending the latest version works.
    assert.equal(
      await chain.run(hospital.org, 'record.anchor', anchor(id(14), P, 'Observation', id(12), 4)),
      TxCode.Ok,
    );
    assert.equal((await chain.state.query.record(id(14)))!.version, 3);
    const v1 = (await chain.state.query.record(id(10)))!;
    assert.equal(v1.contentHash, '01'.repeat(32), 'the first version is unchanged');
  });

  test('two amendments of one version in the same block: the first wins', async () => {
    assert.equal(await chain.run(hospital.org, 'record.anchor', anchor(id(20), P)), TxCode.Ok);
    const { results } = await chain.block([
      chain.tx(hospital.org, 'record.anchor', anchor(id(21), P, 'Observation', id(20))),
      chain.tx(hospital.org, 'record.anchor', anchor(id(22), P, 'Observation', id(20))),
    ]);
    assert.deepEqual(
      results.map((r) => r.code),
      [TxCode.Ok, TxCode.AlreadyExists],
    );
  });

  test('an amendment must name an existing version of the same patient, author and type', async () => {
    assert.equal(
      await chain.run(hospital.org, 'record.anchor', anchor(id(30), P, 'Observation', id(98))),
      TxCode.NotFound,
    );
    assert.equal(
      await chain.run(hospital.org, 'record.anchor', anchor(id(30), Q, 'Observation', id(14))),
      TxCode.Invalid,
    );
    assert.equal(
      await chain.run(lab.org, 'record.anchor', anchor(id(30), P, 'Observation', id(14))),
      TxCode.Unauthorized,
    );
    assert.equal(
      await chain.run(hospital.org, 'record.anchor', anchor(id(30), P, 'DiagnosticReport', id(14))),
      TxCode.Invalid,
    );
  });

  test('a later tx in a block sees an earlier one', async () => {
    const { results } = await chain.block([
      chain.tx(lab.org, 'patient.register', register(id(40))),
      chain.tx(lab.org, 'record.anchor', anchor(id(41), id(40))),
    ]);
    assert.deepEqual(
      results.map((r) => r.code),
      [TxCode.Ok, TxCode.Ok],
    );
  });

  test('a malformed payload is Invalid and consumes the nonce', async () => {
    const bad = chain.tx(hospital.org, 'record.anchor', { ...anchor(id(50), P), size: -1 });
    assert.deepEqual((await chain.block([bad])).results[0], { code: TxCode.Invalid, log: 'malformed payload' });
    assert.equal(chain.state.checkTx(bad.tx).code, TxCode.BadNonce);
  });
});
