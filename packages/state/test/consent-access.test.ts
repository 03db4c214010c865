import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TxCode } from '../src/index.js';
import { access, anchor, Chain, grant, hospital, id, insurer, lab, register, signerFrom } from './helpers.js';

// Patient S holds its own account; patient C is custodial at the hospital without an account.
const patientKey = signerFrom(500);
const S = id(1);
const C = id(2);
const OBS = id(10); // S's Observation, by the hospital
const REPORT = id(11); // S's DiagnosticReport, by the hospital
const C_OBS = id(12); // C's Observation

async function setup(): Promise<Chain> {
  const chain = await Chain.create();
  await chain.block([
    chain.tx(patientKey, 'patient.register', register(S, patientKey.publicKey)),
    chain.tx(hospital.org, 'patient.register', register(C)),
    chain.tx(hospital.org, 'record.anchor', anchor(OBS, S)),
    chain.tx(hospital.org, 'record.anchor', anchor(REPORT, S, 'DiagnosticReport')),
    chain.tx(hospital.org, 'record.anchor', anchor(C_OBS, C)),
  ]);
  return chain;
}

describe('consent.grant and consent.revoke', () => {
  let chain: Chain;
  before(async () => (chain = await setup()));
  after(() => chain.destroy());

  test('the patient account grants; the consent reads back active', async () => {
    assert.equal(await chain.run(patientKey, 'consent.grant', grant(id(100), S, 'lab-b')), TxCode.Ok);
    assert.deepEqual(await chain.state.query.consent(id(100)), {
      id: id(100),
      patient: S,
      grantee: 'lab-b',
      scope: { types: ['Observation'], records: [] },
      purpose: 'treatment',
      expires: 0,
      grantedAt: chain.time,
      revokedAt: null,
      status: 'active',
    });
  });

  test('nobody else grants for a patient with an account, not even the custodian', async () => {
    assert.equal(await chain.run(hospital.org, 'consent.grant', grant(id(101), S, 'lab-b')), TxCode.Unauthorized);
    assert.equal(await chain.run(signerFrom(501), 'consent.grant', grant(id(101), S, 'lab-b')), TxCode.Unauthorized);
  });

  test('the custodian grants for a patient without an account; other orgs and node keys do not', async () => {
    assert.equal(await chain.run(lab.org, 'consent.grant', grant(id(102), C, 'lab-b')), TxCode.Unauthorized);
    assert.equal(await chain.run(hospital.node, 'consent.grant', grant(id(102), C, 'lab-b')), TxCode.Unauthorized);
    assert.equal(await chain.run(hospital.org, 'consent.grant', grant(id(102), C, 'lab-b')), TxCode.Ok);
  });

  test('the grantee must be registered, the patient known, the id new, the expiry in the future', async () => {
    assert.equal(await chain.run(patientKey, 'consent.grant', grant(id(103), S, 'nobody')), TxCode.NotFound);
    assert.equal(await chain.run(patientKey, 'consent.grant', grant(id(103), id(77), 'lab-b')), TxCode.NotFound);
    assert.equal(await chain.run(patientKey, 'consent.grant', grant(id(100), S, 'lab-b')), TxCode.AlreadyExists);
    const nextBlockTime = chain.time + 1000;
    const atBlockTime = grant(id(103), S, 'lab-b', undefined, 'treatment', nextBlockTime);
    assert.equal(await chain.run(patientKey, 'consent.grant', atBlockTime), TxCode.Expired);
    const later = grant(id(103), S, 'lab-b', undefined, 'treatment', chain.time + 1000 + 1);
    assert.equal(await chain.run(patientKey, 'consent.grant', later), TxCode.Ok);
  });

  test('revocation: by the patient only, once, and only while active', async () => {
    assert.equal(await chain.run(hospital.org, 'consent.revoke', { consent: id(100) }), TxCode.Unauthorized);
    assert.equal(await chain.run(lab.org, 'consent.revoke', { consent: id(100) }), TxCode.Unauthorized);
    assert.equal(await chain.run(patientKey, 'consent.revoke', { consent: id(100) }), TxCode.Ok);
    const revoked = (await chain.state.query.consent(id(100)))!;
    assert.equal(revoked.status, 'revoked');
    assert.equal(revoked.revokedAt, chain.time);
    assert.equal(await chain.run(patientKey, 'consent.revoke', { consent: id(100) }), TxCode.Invalid);
    assert.equal(await chain.run(patientKey, 'consent.revoke', { consent: id(199) }), TxCode.NotFound);
    // id(103) expired one ms after the block that granted it.
    assert.equal(await chain.run(patientKey, 'consent.revoke', { consent: id(103) }), TxCode.Expired);
    // The custodian revokes for a patient without an account.
    assert.equal(await chain.run(hospital.org, 'consent.revoke', { consent: id(102) }), TxCode.Ok);
  });
});

describe('access.log', () => {
  let chain: Chain;
  let expiresAt: number;
  before(async () => {
    chain = await setup();
    expiresAt = chain.time + 100_000;
    await chain.block([
      chain.tx(patientKey, 'consent.grant', grant(id(200), S, 'lab-b')),
      chain.tx(patientKey, 'consent.grant', grant(id(201), S, 'insurer-c', { records: [REPORT] }, 'billing')),
      chain.tx(
        patientKey,
        'consent.grant',
        grant(id(202), S, 'lab-b', { types: ['DiagnosticReport'] }, 'treatment', expiresAt),
      ),
      chain.tx(patientKey, 'consent.grant', grant(id(203), S, 'hospital-a', { types: ['Observation'] })),
    ]);
  });
  after(() => chain.destroy());

  test('a consent by type, for the grantee and purpose, allows access', async () => {
    assert.equal(await chain.run(lab.org, 'access.log', access(OBS, id(200))), TxCode.Ok);
  });

  test('a consent by record id allows access to that record only', async () => {
    assert.equal(await chain.run(insurer.org, 'access.log', access(REPORT, id(201), 'billing')), TxCode.Ok);
    assert.equal(await chain.run(insurer.org, 'access.log', access(OBS, id(201), 'billing')), TxCode.Unauthorized);
  });

  test('another grantee, purpose, patient or type is refused', async () => {
    assert.equal(await chain.run(insurer.org, 'access.log', access(OBS, id(200))), TxCode.Unauthorized);
    assert.equal(await chain.run(lab.org, 'access.log', access(OBS, id(200), 'research')), TxCode.Unauthorized);
    assert.equal(await chain.run(hospital.org, 'access.log', access(C_OBS, id(203))), TxCode.Unauthorized);
    assert.equal(await chain.run(lab.org, 'access.log', access(REPORT, id(200))), TxCode.Unauthorized);
  });

  test('unknown record or consent, and non-org signers, are refused', async () => {
    assert.equal(await chain.run(lab.org, 'access.log', access(id(98), id(200))), TxCode.NotFound);
    assert.equal(await chain.run(lab.org, 'access.log', access(OBS, id(299))), TxCode.NotFound);
    assert.equal(await chain.run(lab.node, 'access.log', access(OBS, id(200))), TxCode.Unauthorized);
    assert.equal(await chain.run(patientKey, 'access.log', access(OBS, id(200))), TxCode.Unauthorized);
  });

  test('expiry is judged by block time: allowed before, Expired from the expiry on', async () => {
    chain.time = expiresAt - 1001;
    assert.equal(await chain.run(lab.org, 'access.log', access(REPORT, id(202))), TxCode.Ok); // at expiresAt - 1
    assert.equal(await chain.run(lab.org, 'access.log', access(REPORT, id(202)), 1), TxCode.Expired); // at expiresAt
    assert.equal((await chain.state.query.consent(id(202)))!.status, 'expired');
  });

  test('a revoked consent allows nothing', async () => {
    assert.equal(await chain.run(patientKey, 'consent.revoke', { consent: id(200) }), TxCode.Ok);
    assert.equal(await chain.run(lab.org, 'access.log', access(OBS, id(200))), TxCode.Unauthorized);
  });

  test('break-glass is always allowed and flagged in the trail', async () => {
    const emergency = access(C_OBS, null, 'emergency', 'unconscious');
    assert.equal(await chain.run(insurer.org, 'access.log', emergency), TxCode.Ok);
    const trail = await chain.state.query.accessByPatient(C);
    assert.equal(trail.items.length, 1);
    const event = trail.items[0]!;
    assert.equal(event.breakGlass, 'unconscious');
    assert.equal(event.consent, null);
    assert.equal(event.accessor, 'insurer-c');
    assert.equal(event.record, C_OBS);
    assert.equal(event.time, chain.time);
    assert.equal(event.height, chain.state.height);
    assert.match(event.tx, /^[0-9a-f]{64}$/);
  });

  test('a free-text break-glass reason is a malformed payload: nothing free-form goes on chain', async () => {
    const freeText = access(C_OBS, null, 'emergency', 'John Doe unconscious after overdose');
    assert.equal(await chain.run(insurer.org, 'access.log', freeText), TxCode.Invalid);
    assert.equal((await chain.state.query.accessByPatient(C)).items.length, 1);
  });

  test('the patient sees every allowed access in time order; accessors see theirs', async () => {
    const trail = await chain.state.query.accessByPatient(S);
    assert.deepEqual(
      trail.items.map((e) => [e.accessor, e.record, e.purpose]),
      [
        ['lab-b', OBS, 'treatment'],
        ['insurer-c', REPORT, 'billing'],
        ['lab-b', REPORT, 'treatment'],
      ],
    );
    assert.equal(trail.next, null);
    for (let i = 1; i < trail.items.length; i++) assert.ok(trail.items[i - 1]!.time <= trail.items[i]!.time);
    const byLab = await chain.state.query.accessByAccessor('lab-b');
    assert.equal(byLab.items.length, 2);
    assert.ok(byLab.items.every((e) => e.accessor === 'lab-b'));
  });
});
