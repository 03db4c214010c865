import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { signDocRequest, type Signer } from '@medledger/crypto';
import { TxCode } from '../src/index.js';
import { anchor, Chain, CHAIN_ID, grant, hospital, id, insurer, lab, register, signerFrom } from './helpers.js';

// Patient S holds an account; hospital-a authored S's records; lab-b reads them.
const patientKey = signerFrom(600);
const S = id(1);
const C = id(2); // custodial patient of the hospital
const OBS = id(10);
const REPORT = id(11);
const C_OBS = id(12);
const CONSENT = id(100);

async function setup(): Promise<Chain> {
  const chain = await Chain.create();
  await chain.block([
    chain.tx(patientKey, 'patient.register', register(S, patientKey.publicKey)),
    chain.tx(hospital.org, 'patient.register', register(C)),
    chain.tx(hospital.org, 'record.anchor', anchor(OBS, S)),
    chain.tx(hospital.org, 'record.anchor', anchor(REPORT, S, 'DiagnosticReport')),
    chain.tx(hospital.org, 'record.anchor', anchor(C_OBS, C)),
    chain.tx(patientKey, 'consent.grant', grant(CONSENT, S, lab.id)),
  ]);
  return chain;
}

/** A request signed by `reader` at block-time `time` (default: the next block's time). */
function request(
  chain: Chain,
  reader: Signer,
  record: string,
  opts: { purpose?: string; breakGlass?: string | null; time?: number; chainId?: string } = {},
): Uint8Array {
  return signDocRequest(reader, {
    chainId: opts.chainId ?? CHAIN_ID,
    record,
    purpose: opts.purpose ?? 'treatment',
    breakGlass: opts.breakGlass ?? null,
    time: opts.time ?? chain.time + 1000,
  }).bytes;
}

describe('access.serve: the holder records a document read', () => {
  let chain: Chain;
  before(async () => (chain = await setup()));
  after(() => chain.destroy());

  test('a consented read is an access event naming the reader, purpose and consent', async () => {
    const req = request(chain, lab.org, OBS);
    assert.equal(await chain.run(hospital.node, 'access.serve', { request: req, consent: CONSENT }), TxCode.Ok);
    const { items } = await chain.state.query.accessByPatient(S);
    assert.equal(items.length, 1);
    assert.deepEqual(
      { ...items[0], tx: undefined },
      {
        record: OBS,
        patient: S,
        accessor: lab.id,
        purpose: 'treatment',
        consent: CONSENT,
        breakGlass: null,
        time: chain.time,
        height: chain.state.height,
        tx: undefined,
      },
    );
    // The same signed request cannot be served (and logged) twice.
    assert.equal(
      await chain.run(hospital.node, 'access.serve', { request: req, consent: CONSENT }),
      TxCode.AlreadyExists,
    );
  });

  test('only a node key of the author organisation serves; the reader must sign with its org key', async () => {
    const serve = (signer: Signer, reader: Signer, record = OBS) =>
      chain.run(signer, 'access.serve', { request: request(chain, reader, record), consent: CONSENT });
    assert.equal(await serve(hospital.org, lab.org), TxCode.Unauthorized);
    assert.equal(await serve(lab.node, lab.org), TxCode.Unauthorized);
    assert.equal(await serve(insurer.node, lab.org), TxCode.Unauthorized);
    // Signed with the lab's node key, or with no member key at all: not an organisation asking.
    assert.equal(await serve(hospital.node, lab.node), TxCode.Unauthorized);
    assert.equal(await serve(hospital.node, signerFrom(999)), TxCode.Unauthorized);
    // The consent is the lab's, not the insurer's.
    assert.equal(await serve(hospital.node, insurer.org), TxCode.Unauthorized);
  });

  test('a forged request (signature of another key under the reader key) is refused', async () => {
    const genuine = request(chain, insurer.org, OBS);
    // Swap `from` to the lab's org key: the insurer's signature no longer matches.
    const { decodeDocRequest, encodeDocRequest } = await import('@medledger/types');
    const forged = encodeDocRequest({ ...decodeDocRequest(genuine), from: lab.org.publicKey });
    assert.equal(
      await chain.run(hospital.node, 'access.serve', { request: forged, consent: CONSENT }),
      TxCode.Unauthorized,
    );
  });

  test('scope, purpose, staleness and chain are checked at block time', async () => {
    const serve = (req: Uint8Array, consent: string | null = CONSENT) =>
      chain.run(hospital.node, 'access.serve', { request: req, consent });
    assert.equal(await serve(request(chain, lab.org, REPORT)), TxCode.Unauthorized); // type not in scope
    assert.equal(await serve(request(chain, lab.org, OBS, { purpose: 'research' })), TxCode.Unauthorized);
    assert.equal(await serve(request(chain, lab.org, OBS, { time: chain.time - 10 * 60_000 })), TxCode.Expired);
    assert.equal(await serve(request(chain, lab.org, OBS, { time: chain.time + 10 * 60_000 })), TxCode.Expired);
    assert.equal(await serve(request(chain, lab.org, OBS, { chainId: 'other-chain' })), TxCode.Invalid);
    assert.equal(await serve(request(chain, lab.org, OBS), null), TxCode.Invalid);
    assert.equal(await serve(request(chain, lab.org, OBS), id(404)), TxCode.NotFound);
    assert.equal(await serve(request(chain, lab.org, id(405))), TxCode.NotFound);
    assert.equal(await serve(new Uint8Array([1, 2, 3])), TxCode.Invalid);
  });

  test('break-glass needs no consent and is flagged; it names none', async () => {
    const reason = 'unconscious';
    const req = request(chain, insurer.org, REPORT, { purpose: 'emergency', breakGlass: reason });
    assert.equal(await chain.run(hospital.node, 'access.serve', { request: req, consent: CONSENT }), TxCode.Invalid);
    const again = request(chain, insurer.org, REPORT, { purpose: 'emergency', breakGlass: reason });
    assert.equal(await chain.run(hospital.node, 'access.serve', { request: again, consent: null }), TxCode.Ok);
    const events = (await chain.state.query.accessByPatient(S)).items;
    const flagged = events.filter((e) => e.breakGlass !== null);
    assert.equal(flagged.length, 1);
    assert.equal(flagged[0]!.accessor, insurer.id);
    assert.equal(flagged[0]!.breakGlass, reason);
    assert.equal(flagged[0]!.consent, null);
  });

  test('a break-glass request with a free-text reason is not served: only codes go on chain', async () => {
    const freeText = request(chain, insurer.org, REPORT, { purpose: 'emergency', breakGlass: 'John Doe, overdose' });
    assert.equal(await chain.run(hospital.node, 'access.serve', { request: freeText, consent: null }), TxCode.Invalid);
    const events = (await chain.state.query.accessByPatient(S)).items;
    assert.equal(events.filter((e) => e.breakGlass !== null && e.breakGlass !== 'unconscious').length, 0);
  });

  test('after revocation the next serve fails', async () => {
    assert.equal(await chain.run(patientKey, 'consent.revoke', { consent: CONSENT }), TxCode.Ok);
    const req = request(chain, lab.org, OBS);
    assert.equal(
      await chain.run(hospital.node, 'access.serve', { request: req, consent: CONSENT }),
      TxCode.Unauthorized,
    );
  });
});

describe('record.erase', () => {
  let chain: Chain;
  before(async () => (chain = await setup()));
  after(() => chain.destroy());

  test('only the patient account (or the custodian of a patient without one) erases', async () => {
    assert.equal(await chain.run(hospital.org, 'record.erase', { record: OBS }), TxCode.Unauthorized);
    assert.equal(await chain.run(lab.org, 'record.erase', { record: OBS }), TxCode.Unauthorized);
    assert.equal(await chain.run(signerFrom(601), 'record.erase', { record: OBS }), TxCode.Unauthorized);
    assert.equal(await chain.run(lab.org, 'record.erase', { record: C_OBS }), TxCode.Unauthorized);
    assert.equal(await chain.run(hospital.org, 'record.erase', { record: C_OBS }), TxCode.Ok);
    assert.equal(await chain.run(patientKey, 'record.erase', { record: id(404) }), TxCode.NotFound);
  });

  test('the chain keeps the record and its hash, and marks it erased once', async () => {
    const before = await chain.state.query.record(OBS);
    assert.equal(await chain.run(patientKey, 'record.erase', { record: OBS }), TxCode.Ok);
    const erasedAt = chain.time;
    assert.deepEqual(await chain.state.query.record(OBS), before);
    const erasure = await chain.state.query.erasure(OBS);
    assert.equal(erasure?.record, OBS);
    assert.equal(erasure?.erasedAt, erasedAt);
    assert.match(erasure!.tx, /^[0-9a-f]{64}$/);
    assert.equal(await chain.state.query.erasure(REPORT), undefined);
    assert.equal(await chain.run(patientKey, 'record.erase', { record: OBS }), TxCode.AlreadyExists);
  });

  test('an erased record is never served again, even under break-glass', async () => {
    const req = request(chain, lab.org, OBS, { purpose: 'emergency', breakGlass: 'life-threatening' });
    assert.equal(await chain.run(hospital.node, 'access.serve', { request: req, consent: null }), TxCode.Invalid);
  });
});
