import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { toHex, type GovAction } from '@medledger/types';
import { TxCode, passThreshold } from '../src/index.js';
import { Chain, extraValidator, hospital, id, insurer, lab, signerFrom, testGenesis } from './helpers.js';

// Genesis validators: hospital (2: a-0 and a-1), lab (b-0), insurer (c-0). Passing needs 3 of 4.
const newOrg = { id: 'clinic-d', org: signerFrom(20), node: signerFrom(21) };

const addClinic = (validator: boolean): GovAction => ({
  type: 'member.add',
  org: {
    id: newOrg.id,
    name: 'Clinic D',
    kind: 'hospital',
    orgKey: newOrg.org.publicKey,
    encKey: new Uint8Array(0),
    nodeKeys: [newOrg.node.publicKey],
  },
  validator: validator ? { pubKey: newOrg.node.publicKey, name: 'd-0' } : null,
});

const names = (chain: Chain, height: number) =>
  chain.state
    .validatorsAt(height)
    .map((v) => v.name)
    .sort();

describe('governance', () => {
  let chain: Chain;
  before(async () => (chain = await Chain.create()));
  after(() => chain.destroy());

  const propose = (signer = lab.org, proposal: string, action: GovAction) =>
    chain.run(signer, 'gov.propose', { proposal, action });
  const vote = (signer = insurer.org, proposal: string, approve = true) =>
    chain.run(signer, 'gov.vote', { proposal, approve });
  const status = async (p: string) => (await chain.state.query.proposal(p))!.status;
  /** Votes yes with these organisations, one block each, until the proposal is decided. */
  const passWith = async (p: string, voters = [hospital.org, insurer.org, lab.org]) => {
    for (const v of voters) {
      if ((await status(p)) !== 'open') break;
      assert.equal(await vote(v, p), TxCode.Ok);
    }
    return status(p);
  };

  test('more than two thirds is floor(2n/3) + 1', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(passThreshold), [1, 2, 3, 3, 4, 5, 5]);
  });

  test('only member organisations propose, with their org key', async () => {
    assert.equal(await propose(signerFrom(99), id(1), addClinic(true)), TxCode.Unauthorized);
    assert.equal(await propose(lab.node, id(1), addClinic(true)), TxCode.Unauthorized);
    assert.equal(await chain.state.query.proposal(id(1)), undefined);
  });

  test('a member joins as a validator with > 2/3 of the validators; the set changes at h + 2', async () => {
    assert.equal(await propose(lab.org, id(1), addClinic(true)), TxCode.Ok);
    let p = (await chain.state.query.proposal(id(1)))!;
    // Proposing counts as the proposing organisation's yes (lab runs one validator).
    assert.deepEqual([p.status, p.yes, p.needed, p.validators], ['open', 1, 3, 4]);
    assert.equal(await propose(lab.org, id(1), addClinic(true)), TxCode.AlreadyExists);
    // A node key votes for its own validator only; voting twice does not count twice.
    assert.equal(await vote(extraValidator, id(1)), TxCode.Ok);
    assert.equal(await vote(extraValidator, id(1)), TxCode.Ok);
    p = (await chain.state.query.proposal(id(1)))!;
    assert.deepEqual([p.status, p.yes], ['open', 2]);
    assert.equal(await chain.state.query.org(newOrg.id), undefined);

    assert.equal(await vote(insurer.org, id(1)), TxCode.Ok);
    const h = chain.state.height;
    p = (await chain.state.query.proposal(id(1)))!;
    assert.deepEqual([p.status, p.yes, p.decidedHeight], ['passed', 3, h]);
    assert.equal((await chain.state.query.org(newOrg.id))!.name, 'Clinic D');
    assert.equal(await chain.state.query.orgOfKey(toHex(newOrg.org.publicKey)), newOrg.id);
    assert.ok((await chain.state.query.memberNodeKeys()).includes(toHex(newOrg.node.publicKey)));
    // Decided at h: h + 1 still has the old set, h + 2 the new one, sorted by address.
    assert.deepEqual(names(chain, h + 1), ['a-0', 'a-1', 'b-0', 'c-0']);
    assert.deepEqual(names(chain, h + 2), ['a-0', 'a-1', 'b-0', 'c-0', 'd-0']);
    const set = chain.state.validatorsAt(h + 2);
    for (let i = 1; i < set.length; i++) assert.ok(toHex(set[i - 1]!.address) < toHex(set[i]!.address));
    // A decided proposal takes no more votes.
    assert.equal(await vote(hospital.org, id(1)), TxCode.Invalid);
  });

  test('two no votes out of four make a pass impossible: rejected', async () => {
    const remove: GovAction = { type: 'validator.remove', pubKey: lab.node.publicKey };
    assert.equal(await propose(insurer.org, id(2), remove), TxCode.Ok);
    // Five validators now: hospital's org key counts for its two.
    assert.equal(await vote(hospital.org, id(2), false), TxCode.Ok);
    const p = (await chain.state.query.proposal(id(2)))!;
    assert.deepEqual([p.status, p.no, p.validators], ['rejected', 2, 5]);
  });

  test('only validators, or the organisations that run them, vote', async () => {
    assert.equal(await propose(lab.org, id(3), { type: 'member.remove', org: insurer.id }), TxCode.Ok);
    assert.equal(await vote(signerFrom(98), id(3)), TxCode.Unauthorized);
    assert.equal(await vote(lab.node, id(3), false), TxCode.Ok);
  });

  test('a proposal expires after the voting period of block time', async () => {
    const period = testGenesis().params.proposalVotingPeriodMs ?? 7 * 24 * 3600 * 1000;
    await chain.block([], period + 1000);
    assert.equal(await status(id(3)), 'expired');
    assert.equal(await vote(insurer.org, id(3)), TxCode.Expired);
    assert.ok(await chain.state.query.org(insurer.id));
  });

  test('a proposal that cannot apply is refused when proposed', async () => {
    assert.equal(await propose(lab.org, id(4), addClinic(false)), TxCode.AlreadyExists);
    assert.equal(await propose(lab.org, id(4), { type: 'member.remove', org: 'nobody' }), TxCode.NotFound);
    assert.equal(
      await propose(lab.org, id(4), { type: 'validator.remove', pubKey: signerFrom(97).publicKey }),
      TxCode.NotFound,
    );
    assert.equal(
      await propose(lab.org, id(4), {
        type: 'validator.add',
        org: lab.id,
        validator: { pubKey: hospital.node.publicKey, name: 'x' },
      }),
      TxCode.Invalid,
    );
  });

  test('removing a member drops its keys and its validator at h + 2', async () => {
    assert.equal(await propose(hospital.org, id(5), { type: 'member.remove', org: newOrg.id }), TxCode.Ok);
    assert.equal(await passWith(id(5), [lab.org, insurer.org]), 'passed');
    const h = chain.state.height;
    assert.equal(await chain.state.query.org(newOrg.id), undefined);
    assert.equal(await chain.state.query.orgOfKey(toHex(newOrg.org.publicKey)), undefined);
    assert.ok(!(await chain.state.query.memberNodeKeys()).includes(toHex(newOrg.node.publicKey)));
    assert.ok(names(chain, h + 1).includes('d-0'));
    assert.deepEqual(names(chain, h + 2), ['a-0', 'a-1', 'b-0', 'c-0']);
    // The removed organisation's key signs as nobody now.
    assert.equal(await propose(newOrg.org, id(6), addClinic(true)), TxCode.Unauthorized);
    // Its id is never given out again: consents, custody and authorship name it, and a
    // newcomer under that id would inherit them.
    const rejoin = addClinic(false) as Extract<GovAction, { type: 'member.add' }>;
    const newcomer = { ...rejoin, org: { ...rejoin.org, orgKey: signerFrom(22).publicKey, nodeKeys: [] } };
    assert.equal(await propose(lab.org, id(40), newcomer), TxCode.AlreadyExists);
  });

  test('validator.add and validator.remove of a member', async () => {
    const key = signerFrom(30);
    const add: GovAction = { type: 'validator.add', org: lab.id, validator: { pubKey: key.publicKey, name: 'b-1' } };
    assert.equal(await propose(lab.org, id(7), add), TxCode.Ok);
    assert.equal(await passWith(id(7)), 'passed');
    const h = chain.state.height;
    assert.ok(names(chain, h + 2).includes('b-1'));
    assert.ok((await chain.state.query.org(lab.id))!.nodeKeys.includes(toHex(key.publicKey)));
    const remove: GovAction = { type: 'validator.remove', pubKey: key.publicKey };
    assert.equal(await propose(lab.org, id(8), remove), TxCode.Ok);
    assert.equal(await passWith(id(8)), 'passed');
    assert.ok(!names(chain, chain.state.height + 2).includes('b-1'));
    // Still a member with the key: only the validator role went.
    assert.equal(await chain.state.query.orgOfKey(toHex(key.publicKey)), lab.id);
  });

  test('org.rotateKey: the current key names the next one, which takes over the organisation', async () => {
    const next = signerFrom(40);
    assert.equal(await chain.run(lab.node, 'org.rotateKey', { newKey: next.publicKey }), TxCode.Unauthorized);
    assert.equal(await chain.run(lab.org, 'org.rotateKey', { newKey: hospital.org.publicKey }), TxCode.AlreadyExists);
    assert.equal(await chain.run(lab.org, 'org.rotateKey', { newKey: next.publicKey }), TxCode.Ok);
    assert.equal((await chain.state.query.org(lab.id))!.orgKey, toHex(next.publicKey));
    assert.equal(await chain.state.query.orgOfKey(toHex(lab.org.publicKey)), undefined);
    // The old key is nobody's now; the new one proposes (its account starts at nonce 1).
    const addClinicE: GovAction = {
      type: 'member.add',
      org: {
        id: 'clinic-e',
        name: 'Clinic E',
        kind: 'hospital',
        orgKey: signerFrom(41).publicKey,
        encKey: new Uint8Array(0),
        nodeKeys: [],
      },
      validator: null,
    };
    assert.equal(await propose(lab.org, id(9), addClinicE), TxCode.Unauthorized);
    assert.equal(await propose(next, id(9), addClinicE), TxCode.Ok);
    assert.equal((await chain.state.query.account(toHex(next.address)))!.nonce, 1);
  });

  test('proposals list newest first and survive a restart with the same app hash', async () => {
    const before = chain.state.appHash;
    const list = await chain.state.query.proposals();
    assert.equal(list[0]!.id, id(9));
    assert.equal(list.length, 7);
    await chain.restart();
    assert.deepEqual(chain.state.appHash, before);
    assert.deepEqual(await chain.state.query.proposals(), list);
  });
});
