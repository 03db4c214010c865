import { decodeAccount, encodeEntry } from '../entities.js';
import type { StateReader } from '../context.js';
import { accountKey } from '../keys.js';
import type { StateOverlay } from '../overlay.js';

/**
 * Accounts: the last nonce each address used. An account exists from its first executed tx.
 * A tx is accepted when its nonce is above the last one (gaps are allowed), and every tx that
 * passes the chain and nonce checks consumes its nonce, whatever its result: results are final
 * and a failed tx cannot be replayed into a later block where it might succeed.
 */
export function readNonce(store: StateReader, address: Uint8Array): number | undefined {
  const bytes = store.get(accountKey(address));
  return bytes === undefined ? undefined : decodeAccount(bytes).nonce;
}

export function writeNonce(store: StateOverlay, address: Uint8Array, nonce: number): void {
  store.put(accountKey(address), encodeEntry({ nonce }));
}

/** True when `nonce` may follow the last used nonce and the sender's pending mempool nonce. */
export function nonceAcceptable(nonce: number, lastUsed: number | undefined, pending: number | undefined): boolean {
  if (lastUsed !== undefined && nonce <= lastUsed) return false;
  if (pending !== undefined && nonce <= pending) return false;
  return true;
}
