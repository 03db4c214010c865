/**
 * A plain Uint8Array view of the same memory (no copy). libp2p hands out Buffers in places
 * (Uint8ArrayList.subarray); callers get one type, and deepEqual against a Uint8Array holds.
 */
export function plain(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
