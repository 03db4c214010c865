import type { KeyValueReader } from '@medledger/db';

export interface StateWrite {
  key: Uint8Array;
  /** null = delete. */
  value: Uint8Array | null;
}

const id = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');

/**
 * Uncommitted writes over committed state: later txs of a block read what earlier ones wrote.
 * Writes of the running tx sit in their own layer, so a tx that fails a rule leaves nothing
 * behind (`rollbackTx`) while its nonce, written before the tx layer opens, stays consumed.
 */
export class StateOverlay {
  readonly #base: Pick<KeyValueReader, 'getSync'>;
  readonly #block = new Map<string, StateWrite>();
  #tx: Map<string, StateWrite> | null = null;

  constructor(base: Pick<KeyValueReader, 'getSync'>) {
    this.#base = base;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    const k = id(key);
    const write = this.#tx?.get(k) ?? this.#block.get(k);
    if (write) return write.value ?? undefined;
    return this.#base.getSync(key);
  }

  has(key: Uint8Array): boolean {
    return this.get(key) !== undefined;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    (this.#tx ?? this.#block).set(id(key), { key, value });
  }

  del(key: Uint8Array): void {
    (this.#tx ?? this.#block).set(id(key), { key, value: null });
  }

  beginTx(): void {
    this.#tx = new Map();
  }

  commitTx(): void {
    if (this.#tx) for (const [k, w] of this.#tx) this.#block.set(k, w);
    this.#tx = null;
  }

  rollbackTx(): void {
    this.#tx = null;
  }

  /**
   * Every write of the block, sorted by key bytes: the order never depends on the order of writes.
   * The map keys are the key bytes as latin1 strings (one char per byte, 0..255), so comparing
   * them as strings orders them as `compareBytes` would, with native string comparisons.
   */
  writes(): StateWrite[] {
    return [...this.#block.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, w]) => w);
  }
}
