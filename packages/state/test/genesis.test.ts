import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressOf } from '@medledger/crypto';
import { createDatabase, TEST_DATABASE_OPTIONS } from '@medledger/db';
import { compareBytes, toHex } from '@medledger/types';
import { createStateMachine } from '../src/index.js';
import {
  Chain,
  extraValidator,
  GENESIS_TIME,
  header,
  hospital,
  insurer,
  lab,
  tempDir,
  testGenesis,
} from './helpers.js';

test('genesis state: orgs, key owners and height 0 with the genesis app hash', async () => {
  const chain = await Chain.create();
  try {
    const { state } = chain;
    assert.equal(state.height, 0);
    assert.deepEqual(state.appHash, state.genesisAppHash);
    assert.equal(state.appHash.length, 32);

    const orgs = await state.query.orgs();
    assert.deepEqual(
      orgs.map((o) => o.id),
      ['hospital-a', 'insurer-c', 'lab-b'],
    );
    const a = (await state.query.org('hospital-a'))!;
    assert.equal(a.kind, 'hospital');
    assert.equal(a.orgKey, toHex(hospital.org.publicKey));
    assert.deepEqual(a.nodeKeys, [toHex(hospital.node.publicKey)]);
    assert.equal(await state.query.org('nobody'), undefined);
    assert.equal(await state.query.org('NOT VALID'), undefined);

    assert.equal(await state.query.orgOfKey(toHex(lab.org.publicKey)), 'lab-b');
    assert.equal(await state.query.orgOfKey(toHex(lab.node.publicKey)), 'lab-b');
    // A validator key not listed under nodeKeys still belongs to its organisation.
    assert.equal(await state.query.orgOfKey(toHex(extraValidator.publicKey)), 'hospital-a');
    assert.equal(await state.query.orgOfKey('00'.repeat(32)), undefined);
    assert.equal(await state.query.orgOfKey('xyz'), undefined);
  } finally {
    await chain.destroy();
  }
});

test('validators are the genesis set sorted by address at every height', async () => {
  const chain = await Chain.create();
  try {
    const set = chain.state.validatorsAt(1);
    assert.equal(set.length, 4);
    for (let i = 1; i < set.length; i++) assert.ok(compareBytes(set[i - 1]!.address, set[i]!.address) < 0);
    for (const v of set) assert.deepEqual(v.address, addressOf(v.pubKey));
    assert.deepEqual(new Set(set.map((v) => v.name)), new Set(['a-0', 'b-0', 'c-0', 'a-1']));
    assert.deepEqual(chain.state.validatorsAt(1000), set);
    assert.deepEqual(chain.state.validatorsAt(0), set);
  } finally {
    await chain.destroy();
  }
});

test('the genesis app hash depends only on genesis, and on every part of it', async () => {
  const one = await Chain.create();
  const two = await Chain.create();
  const dir = tempDir();
  const db = createDatabase({ ...TEST_DATABASE_OPTIONS, path: dir.path });
  try {
    assert.deepEqual(one.state.appHash, two.state.appHash);
    await db.open();
    // Same orgs listed in another order: same state, same hash.
    const reordered = testGenesis();
    reordered.orgs.reverse();
    reordered.validators.reverse();
    assert.deepEqual(createStateMachine({ genesis: reordered }, { db }).appHash, one.state.appHash);
    const otherChain = createStateMachine({ genesis: testGenesis('other-chain') }, { db });
    assert.notDeepEqual(otherChain.appHash, one.state.appHash);
    const renamed = testGenesis();
    renamed.orgs[0]!.name = 'Hospital A2';
    assert.notDeepEqual(createStateMachine({ genesis: renamed }, { db }).appHash, one.state.appHash);
  } finally {
    await db.close();
    dir.remove();
    await one.destroy();
    await two.destroy();
  }
});

test('initGenesis is a no-op on a database that has state', async () => {
  const chain = await Chain.create();
  try {
    const batch = chain.db.createBatch();
    chain.state.initGenesis(batch);
    assert.equal(batch.length, 0);
  } finally {
    await chain.destroy();
  }
});

test('a genesis that claims one key twice is refused', () => {
  const g = testGenesis();
  g.orgs[1]!.nodeKeys.push(g.orgs[0]!.orgKey);
  assert.throws(() => createStateMachine({ genesis: g }, { db: undefined as never }), {
    code: 'STATE_GENESIS_INVALID',
  });
  const v = testGenesis();
  v.validators[0]!.org = 'lab-b';
  assert.throws(() => createStateMachine({ genesis: v }, { db: undefined as never }), {
    code: 'STATE_GENESIS_INVALID',
  });
});

test('a database made from another genesis is refused', async () => {
  const chain = await Chain.create();
  try {
    const other = createStateMachine({ genesis: testGenesis('other-chain') }, { db: chain.db });
    assert.throws(() => other.height, { code: 'STATE_GENESIS_MISMATCH' });
    assert.throws(() => other.initGenesis(chain.db.createBatch()), { code: 'STATE_GENESIS_MISMATCH' });
  } finally {
    await chain.destroy();
  }
});

test('executeBlock refuses a block that is not next, from another chain, or going back in time', async () => {
  const chain = await Chain.create();
  try {
    const batch = chain.db.createBatch();
    assert.throws(() => chain.state.executeBlock(header(2, GENESIS_TIME + 1), [], batch), {
      code: 'STATE_WRONG_HEIGHT',
    });
    assert.throws(() => chain.state.executeBlock(header(1, GENESIS_TIME + 1, 'other'), [], batch), {
      code: 'STATE_WRONG_CHAIN',
    });
    assert.throws(() => chain.state.executeBlock(header(1, GENESIS_TIME - 1), [], batch), {
      code: 'STATE_INVALID_BLOCK_TIME',
    });
    assert.equal(batch.length, 0);
    // commit() checks the written batch: committing without writing is a bug, caught.
    const exec = chain.state.executeBlock(header(1, GENESIS_TIME + 1), [], chain.db.createBatch());
    assert.throws(() => chain.state.commit(1, exec.appHash), { code: 'STATE_COMMIT_MISMATCH' });
    assert.equal(chain.state.height, 0);
  } finally {
    await chain.destroy();
  }
});

test('executing the same block twice before commit gives the same result and changes nothing', async () => {
  const chain = await Chain.create();
  try {
    const txs = [chain.tx(insurer.org, 'patient.register', { patient: 'ab'.repeat(16), account: null, encKey: null })];
    const a = chain.state.executeBlock(header(1, GENESIS_TIME + 5), txs, chain.db.createBatch());
    const b = chain.state.executeBlock(header(1, GENESIS_TIME + 5), txs, chain.db.createBatch());
    assert.deepEqual(a, b);
    assert.equal(await chain.state.query.patient('ab'.repeat(16)), undefined);
    assert.equal(chain.state.height, 0);
  } finally {
    await chain.destroy();
  }
});
