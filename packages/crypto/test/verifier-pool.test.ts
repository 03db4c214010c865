import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, Signer, VerifierPool, verifySignature, type VerifyItem } from '../src/index.js';

function items(n: number): VerifyItem[] {
  const signers = [new Signer(generateKeyPair().secretKey), new Signer(generateKeyPair().secretKey)];
  return Array.from({ length: n }, (_, i) => {
    const message = new TextEncoder().encode(`record ${i}`);
    const signer = signers[i % 2]!;
    const signature = signer.sign(message);
    // Every 7th is forged, every 11th has a malformed signature.
    if (i % 7 === 3) signature[0]! ^= 1;
    return { publicKey: signer.publicKey, message, signature: i % 11 === 5 ? signature.subarray(0, 10) : signature };
  });
}

test('the verifier pool agrees with verifySignature, on worker threads and inline', async () => {
  const batch = items(300);
  const expected = batch.map((it) => verifySignature(it.publicKey, it.message, it.signature));
  assert.ok(expected.includes(false) && expected.includes(true));
  for (const threads of [0, 1, 2]) {
    const pool = new VerifierPool({ threads, minBatch: 16 });
    try {
      assert.deepEqual(await pool.verify(batch), expected, `threads ${threads}`);
      // A small batch is verified on the calling thread.
      assert.deepEqual(await pool.verify(batch.slice(0, 5)), expected.slice(0, 5));
      assert.deepEqual(await pool.verify([]), []);
    } finally {
      await pool.close();
    }
  }
});
