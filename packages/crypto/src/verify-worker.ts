// Worker side of VerifierPool: unpacks a batch, verifies each signature through
// `verifySignature`, answers one byte per item (1 = valid).
import { parentPort } from 'node:worker_threads';
import { verifySignature } from './ed25519.js';

parentPort?.on('message', (m: { id: number; count: number; buf: Uint8Array }) => {
  const { id, count, buf } = m;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const results = new Uint8Array(count);
  let o = 0;
  for (let i = 0; i < count; i++) {
    const keyLen = view.getUint32(o);
    const sigLen = view.getUint32(o + 4);
    const msgLen = view.getUint32(o + 8);
    o += 12;
    const publicKey = buf.subarray(o, o + keyLen);
    o += keyLen;
    const signature = buf.subarray(o, o + sigLen);
    o += sigLen;
    const message = buf.subarray(o, o + msgLen);
    o += msgLen;
    results[i] = verifySignature(publicKey, message, signature) ? 1 : 0;
  }
  parentPort!.postMessage({ id, results }, [results.buffer]);
});
