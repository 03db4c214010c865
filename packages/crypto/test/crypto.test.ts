import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateKeyPair,
  merkleProof,
  merkleRoot,
  readKeyFile,
  Signer,
  verifyMerkleProof,
  verifySignature,
  writeKeyFile,
  sha256,
} from '../src/index.js';

test('a signature verifies only for its key and message', () => {
  const kp = generateKeyPair();
  const signer = new Signer(kp.secretKey);
  const msg = new TextEncoder().encode('anchor');
  const sig = signer.sign(msg);
  assert.equal(verifySignature(kp.publicKey, msg, sig), true);
  assert.equal(verifySignature(kp.publicKey, new TextEncoder().encode('anchor!'), sig), false);
  assert.equal(verifySignature(generateKeyPair().publicKey, msg, sig), false);
  assert.equal(verifySignature(kp.publicKey, msg, sig.subarray(0, 63)), false);
});

test('merkle proofs verify for every leaf of trees of many sizes and fail for others', () => {
  for (let n = 1; n <= 17; n++) {
    const leaves = Array.from({ length: n }, (_, i) => sha256(String(i)));
    const root = merkleRoot(leaves);
    for (let i = 0; i < n; i++) {
      const proof = merkleProof(leaves, i);
      assert.equal(verifyMerkleProof(root, leaves[i]!, proof), true, `n=${n} i=${i}`);
      assert.equal(verifyMerkleProof(root, sha256('other'), proof), false);
    }
  }
});

test('encrypted key files need the passphrase and never hold the seed in the clear', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-key-'));
  const kp = generateKeyPair();
  const path = join(dir, 'org.key');
  writeKeyFile(path, kp, 'correct horse');
  const text = readFileSync(path, 'utf8');
  assert.ok(!text.includes(Buffer.from(kp.secretKey).toString('hex')));
  assert.throws(() => readKeyFile(path), /encrypted/);
  assert.throws(() => readKeyFile(path, 'wrong'), /wrong passphrase/);
  const loaded = readKeyFile(path, 'correct horse');
  assert.deepEqual(loaded.secretKey, kp.secretKey);
  assert.equal(loaded.encrypted, true);
});
