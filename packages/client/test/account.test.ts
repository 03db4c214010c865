import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeTx, MedLedgerError, toHex, TxType, txSignBytes, type Tx } from '@medledger/types';
import { addressHex, generateEncKeyPair, generateKeyPair, sha256, Signer, verifySignature } from '@medledger/crypto';
import { Account, randomId, sealRecord, type AccountClient, type SubmitResult, type TxResponse } from '../src/index.js';

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * An in-memory AccountClient: records the txs in the order they reach it, takes a random time
 * to answer, and can be told to reject the next submissions with given errors.
 */
class StubClient implements AccountClient {
  committedNonce: number;
  received: Tx[] = [];
  accountReads = 0;
  failNext: MedLedgerError[] = [];

  constructor(committedNonce = 0) {
    this.committedNonce = committedNonce;
  }

  async status() {
    return { chainId: 'stub-chain' };
  }

  async account(address: string) {
    this.accountReads++;
    await delay(5);
    return { address, nonce: this.committedNonce };
  }

  async submitTx(bytes: Uint8Array): Promise<SubmitResult> {
    // Each submission takes a random time, so unordered submissions would arrive out of order.
    await delay(Math.random() * 10);
    const err = this.failNext.shift();
    if (err) throw err;
    const tx = decodeTx(bytes);
    this.received.push(tx);
    return { hash: 'h' };
  }

  async waitForTx(hash: string): Promise<TxResponse> {
    await delay(1);
    return { hash, height: 7, index: 0, code: 0, log: '', tx: {} as TxResponse['tx'] };
  }
}

const rejection = (code: string, status: number) => new MedLedgerError(code, code, { status });

test('concurrent sends get consecutive nonces in call order and reach the node in that order', async () => {
  const signer = new Signer(generateKeyPair().secretKey);
  const client = new StubClient(41);
  const account = new Account({ signer, client, chainId: 'stub-chain' });
  const consents = Array.from({ length: 20 }, randomId);
  const results = await Promise.all(consents.map((consent) => account.send(TxType.ConsentRevoke, { consent })));
  assert.deepEqual(
    results.map((r) => r.nonce),
    consents.map((_, i) => 42 + i),
  );
  assert.deepEqual(
    client.received.map((t) => t.nonce),
    consents.map((_, i) => 42 + i),
  );
  // Each call's tx is the one it asked for, signed by the account.
  client.received.forEach((tx, i) => {
    assert.deepEqual(tx.payload, { consent: consents[i] });
    assert.equal(tx.chainId, 'stub-chain');
    assert.equal(verifySignature(signer.publicKey, txSignBytes(tx), tx.signature), true);
  });
  assert.equal(client.accountReads, 1, 'the nonce is read from the node once, then counted locally');
  assert.equal(account.address, addressHex(signer.publicKey));
});

test('convenience calls share the same nonce sequence as send', async () => {
  const content = new TextEncoder().encode('{"resourceType":"Observation","valueBoolean":true}');
  const sealed = sealRecord({ record: randomId(), content, authorEncKey: generateEncKeyPair().publicKey });
  const client = new StubClient();
  const account = new Account({ signer: new Signer(generateKeyPair().secretKey), client, chainId: 'c' });
  const [p, r, g, v, a] = await Promise.all([
    account.registerPatient(),
    account.anchorRecord({ record: randomId(), patient: randomId(), resourceType: 'Observation', sealed }),
    account.grantConsent({ patient: randomId(), grantee: 'lab-1', types: ['Observation'], purpose: 'treatment' }),
    account.revokeConsent(randomId()),
    account.logAccess({ record: randomId(), purpose: 'treatment', breakGlass: 'unconscious' }),
  ]);
  assert.deepEqual(
    [p, r, g, v, a].map((x) => x.nonce),
    [1, 2, 3, 4, 5],
  );
  assert.match(p.patient, /^[0-9a-f]{32}$/);
  // The ciphertext is what is anchored; the document's own hash is nowhere in the signed tx.
  assert.equal(r.size, sealed.ciphertext.length);
  assert.equal(r.contentHash, toHex(sha256(sealed.ciphertext)));
  const anchored = client.received.find((tx) => tx.type === TxType.RecordAnchor)!;
  assert.deepEqual(anchored.payload, { ...anchored.payload, contentHash: sha256(sealed.ciphertext) });
  assert.notDeepEqual((anchored.payload as { contentHash: Uint8Array }).contentHash, sha256(content));
});

test('a refused tx does not use up its nonce; BAD_NONCE makes the account re-read it; a timeout uses it up', async () => {
  const client = new StubClient(10);
  const account = new Account({ signer: new Signer(generateKeyPair().secretKey), client, chainId: 'c' });
  const revoke = () => account.send(TxType.ConsentRevoke, { consent: randomId() });

  client.failNext.push(rejection('UNAUTHORIZED', 403));
  await assert.rejects(revoke(), { code: 'UNAUTHORIZED' });
  assert.equal((await revoke()).nonce, 11);

  client.failNext.push(rejection('TIMEOUT', 504));
  await assert.rejects(revoke(), { code: 'TIMEOUT' });
  assert.equal((await revoke()).nonce, 13, 'nonce 12 may be in the mempool, so it is not reused');

  // BAD_NONCE: the account re-reads the committed nonce, and moves past both it and the refused one.
  client.failNext.push(rejection('BAD_NONCE', 409));
  await assert.rejects(revoke(), { code: 'BAD_NONCE' });
  client.committedNonce = 20;
  assert.equal((await revoke()).nonce, 21);
  assert.equal(client.accountReads, 2);
  client.failNext.push(rejection('BAD_NONCE', 409));
  await assert.rejects(revoke(), { code: 'BAD_NONCE' });
  client.committedNonce = 5;
  assert.equal((await revoke()).nonce, 23, 'never below a nonce the node already refused');
  assert.equal(client.accountReads, 3);
});

test('an invalid payload is refused before anything is sent, and does not hold up the queue', async () => {
  const client = new StubClient();
  const account = new Account({ signer: new Signer(generateKeyPair().secretKey), client, chainId: 'c' });
  await assert.rejects(account.send(TxType.ConsentRevoke, { consent: 'nope' }), { code: 'INVALID_SHAPE' });
  await assert.rejects(
    account.grantConsent({ patient: randomId(), grantee: 'lab', purpose: 'treatment' }),
    (e: unknown) => e instanceof MedLedgerError && /payload\.scope/.test(e.message),
  );
  assert.equal(client.received.length, 0);
  assert.equal(client.accountReads, 0);
  assert.equal((await account.send(TxType.ConsentRevoke, { consent: randomId() })).nonce, 1);
});

test('wait: commit resolves with where the tx committed', async () => {
  const account = await Account.connect(new Signer(generateKeyPair().secretKey), new StubClient());
  assert.equal(account.chainId, 'stub-chain');
  const r = await account.send(TxType.ConsentRevoke, { consent: randomId() }, { wait: 'commit' });
  assert.equal(r.height, 7);
  assert.equal(r.code, 0);
});
