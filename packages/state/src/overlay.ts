import { Bucket } from '@medledger/db';
import { bytesEqual } from '@medledger/types';

export interface StateWrite {
  key: Uint8Array;
  /** null = delete. */
  value: Uint8Array | null;
}

/** A write with its key as a latin1 string (one char per byte): the form maps key it by. */
export interface KeyedWrite extends StateWrite {
  id: string;
}

export const keyId = (key: Uint8Array): string =>
  Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');

/** Committed state under an overlay; `id` is the key's `keyId` when the caller has it already. */
export interface CommittedReader {
  getSync(key: Uint8Array, id?: string): Uint8Array | undefined;
}

/**
 * Uncommitted writes over committed state: later txs of a block read what earlier ones wrote.
 * The running tx writes into the block's map and remembers what each write replaced, so a tx
 * that fails a rule leaves nothing behind (`rollbackTx`) while its nonce, written before the tx
 * opens, stays consumed. Undoing is the rare case; a successful tx costs no copy.
 *
 * Index entries (five of a record anchor's seven writes) are derived and never read back during
 * execution, so they skip the map: they are kept in write order, and a rollback cuts the list.
 */
export class StateOverlay {
  readonly #base: CommittedReader;
  readonly #block = new Map<string, KeyedWrite>();
  readonly #index: StateWrite[] = [];
  /** What the running tx's writes replaced, oldest first; null outside a tx. */
  #undo: { id: string; replaced: KeyedWrite | undefined }[] | null = null;
  /** Length of the index list when the running tx began. */
  #indexMark = 0;

  constructor(base: CommittedReader) {
    this.#base = base;
  }

  get(key: Uint8Array): Uint8Array | undefined {
    if (key[0] === Bucket.Index) return this.#getIndex(key);
    const id = keyId(key);
    const write = this.#block.get(id);
    if (write) return write.value ?? undefined;
    return this.#base.getSync(key, id);
  }

  has(key: Uint8Array): boolean {
    return this.get(key) !== undefined;
  }

  put(key: Uint8Array, value: Uint8Array): void {
    this.#write(key, value);
  }

  del(key: Uint8Array): void {
    this.#write(key, null);
  }

  #write(key: Uint8Array, value: Uint8Array | null): void {
    if (key[0] === Bucket.Index) this.#index.push({ key, value });
    else this.#set({ id: keyId(key), key, value });
  }

  /** No handler reads the index today; a read is still answered right, newest write first. */
  #getIndex(key: Uint8Array): Uint8Array | undefined {
    for (let i = this.#index.length - 1; i >= 0; i--) {
      const write = this.#index[i]!;
      if (bytesEqual(write.key, key)) return write.value ?? undefined;
    }
    return this.#base.getSync(key);
  }

  #set(write: KeyedWrite): void {
    this.#undo?.push({ id: write.id, replaced: this.#block.get(write.id) });
    this.#block.set(write.id, write);
  }

  beginTx(): void {
    this.#undo = [];
    this.#indexMark = this.#index.length;
  }

  commitTx(): void {
    this.#undo = null;
  }

  rollbackTx(): void {
    const undo = this.#undo ?? [];
    // Newest first, so a key the tx wrote twice ends as it was before the tx.
    for (let i = undo.length - 1; i >= 0; i--) {
      const { id, replaced } = undo[i]!;
      if (replaced) this.#block.set(id, replaced);
      else this.#block.delete(id);
    }
    this.#index.length = this.#indexMark;
    this.#undo = null;
  }

  /**
   * Every write of the block outside the index, sorted by key bytes: the order never depends on
   * the order of writes. Comparing the latin1 ids as strings orders them as `compareBytes`
   * would, with native string comparisons.
   */
  writes(): KeyedWrite[] {
    return [...this.#block.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** The block's index writes in the order they were made (a later write of a key wins). */
  indexWrites(): readonly StateWrite[] {
    return this.#index;
  }
}
