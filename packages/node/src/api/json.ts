import { toHex, type Block, type Commit, type Tx } from '@medledger/types';

/** Turns bytes into hex, recursively, for JSON responses. */
export function toJsonValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsonValue(x)]));
  }
  return v;
}

export function txToJson(tx: Tx, hash: string) {
  return { hash, ...(toJsonValue(tx) as object) };
}

export function commitToJson(c: Commit | null) {
  return c ? toJsonValue(c) : null;
}

export function blockToJson(block: Block, hash: Uint8Array, txs: { tx: Tx; hash: string }[]) {
  return {
    header: { height: block.header.height, hash: toHex(hash), ...(toJsonValue(block.header) as object) },
    txs: txs.map((t) => txToJson(t.tx, t.hash)),
    lastCommit: commitToJson(block.lastCommit),
  };
}
