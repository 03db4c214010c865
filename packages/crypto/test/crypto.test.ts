import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addressHex,
  addressOf,
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

test('an address is the first 20 bytes of sha256(key), remembered or not, from a view or a copy', () => {
  // More keys than the memo holds, so it is emptied and refilled on the way.
  const keys = Array.from({ length: 10_050 }, (_, i) => sha256(`key ${i}`));
  for (const round of [0, 1]) {
    for (const [i, key] of keys.entries()) {
      if (i % 97 !== round) continue;
      const expected = Buffer.from(sha256(key).subarray(0, 20));
      assert.deepEqual(Buffer.from(addressOf(key)), expected);
      assert.equal(addressHex(key), expected.toString('hex'));
    }
    for (const key of keys) addressOf(key);
  }
  const padded = new Uint8Array(40);
  padded.set(keys[0]!, 8);
  assert.deepEqual(addressOf(padded.subarray(8)), addressOf(keys[0]!));
});

test('verification agrees with OpenSSL on honest signatures and refuses every single-bit change', () => {
  const kp = generateKeyPair();
  const signer = new Signer(kp.secretKey);
  const openssl = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), kp.publicKey]),
    format: 'der',
    type: 'spki',
  });
  for (let m = 0; m < 8; m++) {
    const msg = sha256(`record ${m}`);
    const sig = signer.sign(msg);
    assert.equal(verifySignature(kp.publicKey, msg, sig), true);
    assert.equal(verify(null, msg, openssl, sig), true);
    for (let bit = 0; bit < 512; bit += 7) {
      const bad = sig.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      assert.equal(verifySignature(kp.publicKey, msg, bad), false, `message ${m}, bit ${bit}`);
    }
  }
});

test('the signature rule is strict: no universal signature for a small-order key, no non-canonical S', () => {
  // The identity point as a public key with R = identity and S = 0 satisfies the cofactorless
  // equation for every message; OpenSSL accepts it, the chain's rule must not (ADR 0009).
  const identity = new Uint8Array(32);
  identity[0] = 1;
  const universal = new Uint8Array(64);
  universal[0] = 1;
  for (const m of ['grant consent', 'erase record']) {
    assert.equal(verifySignature(identity, new TextEncoder().encode(m), universal), false);
  }
  // S + L (the group order) is the same scalar mod L but not the canonical encoding.
  const kp = generateKeyPair();
  const msg = new TextEncoder().encode('anchor');
  const sig = new Signer(kp.secretKey).sign(msg);
  const order = 2n ** 252n + 27742317777372353535851937790883648493n;
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
  let sPlusL = s + order;
  const malleated = sig.slice();
  for (let i = 0; i < 32; i++, sPlusL >>= 8n) malleated[32 + i] = Number(sPlusL & 0xffn);
  assert.equal(verifySignature(kp.publicKey, msg, malleated), false);
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

test('merkle roots follow RFC 6962 (0x00 leaf, 0x01 node prefixes, largest power-of-two split)', () => {
  const h = (...parts: Uint8Array[]) => {
    const hash = createHash('sha256');
    for (const p of parts) hash.update(p);
    return new Uint8Array(hash.digest());
  };
  const reference = (leaves: Uint8Array[]): Uint8Array => {
    if (leaves.length === 0) return h();
    if (leaves.length === 1) return h(new Uint8Array([0]), leaves[0]!);
    let k = 1;
    while (k * 2 < leaves.length) k *= 2;
    return h(new Uint8Array([1]), reference(leaves.slice(0, k)), reference(leaves.slice(k)));
  };
  for (let n = 0; n <= 40; n++) {
    const leaves = Array.from({ length: n }, (_, i) => sha256(String(i)));
    assert.deepEqual(merkleRoot(leaves), reference(leaves), `n=${n}`);
  }
  const odd = [new Uint8Array([7]), sha256('x'), new Uint8Array(40)];
  assert.deepEqual(merkleRoot(odd), reference(odd), 'leaves of other sizes');
});

test('a merkle proof whose path holds a value that is not a 32-byte hash is refused', () => {
  const leaves = Array.from({ length: 5 }, (_, i) => sha256(String(i)));
  const proof = merkleProof(leaves, 2);
  const long = { ...proof, path: proof.path.map((p, i) => (i === 0 ? new Uint8Array([...p, 0]) : p)) };
  assert.equal(verifyMerkleProof(merkleRoot(leaves), leaves[2]!, long), false);
});

test('encrypted key files need the passphrase and never hold the seed in the clear', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ml-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
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
