import { addressOf } from '@medledger/crypto';
import { compareBytes, fromHex, toHex, type Genesis } from '@medledger/types';
import type { OrgView, Validator } from '../interface.js';
import type { StateReader } from '../context.js';
import {
  KeyRole,
  decodeKeyOwner,
  decodeOrg,
  encodeEntry,
  type KeyOwnerEntry,
  type OrgEntry,
  type ValidatorEntry,
  type ValidatorSetEntry,
} from '../entities.js';
import { StateErrorCode, stateError } from '../errors.js';
import { chainKey, keyOwnerKey, orgKey, validatorSetsKey } from '../keys.js';
import type { StateWrite } from '../overlay.js';

/**
 * Registry: member organisations, which org owns each key, and the validator sets. Today all
 * of it comes from genesis; governance (a later module) will add and remove members and
 * validators. Validator sets are therefore kept as a list of sets each with the first height
 * it is in force (genesis: height 1), so a change decided at h can be stored with from = h + 2.
 */
export function genesisWrites(genesis: Genesis): StateWrite[] {
  const writes: StateWrite[] = [];
  const put = (key: Uint8Array, value: object) => writes.push({ key, value: encodeEntry(value) });

  put(chainKey(), { chainId: genesis.chainId, genesisTime: genesis.genesisTime, params: { ...genesis.params } });

  // Every key belongs to exactly one organisation in one role: org keys and node keys apart.
  const owners = new Map<string, KeyOwnerEntry>();
  const claim = (keyHex: string, owner: KeyOwnerEntry) => {
    const existing = owners.get(keyHex);
    if (existing && (existing.org !== owner.org || existing.role !== owner.role)) {
      throw stateError(StateErrorCode.GENESIS_INVALID, `key ${keyHex} is claimed twice in genesis`, {
        orgs: [existing.org, owner.org],
      });
    }
    owners.set(keyHex, owner);
  };
  for (const org of genesis.orgs) {
    claim(org.orgKey, { org: org.id, role: KeyRole.Org });
    for (const k of org.nodeKeys) claim(k, { org: org.id, role: KeyRole.Node });
    const entry: OrgEntry = {
      id: org.id,
      name: org.name,
      kind: org.kind,
      orgKey: fromHex(org.orgKey, 'orgKey'),
      encKey: org.encKey ? fromHex(org.encKey, 'encKey') : new Uint8Array(0),
      nodeKeys: org.nodeKeys.map((k) => fromHex(k, 'nodeKey')),
    };
    put(orgKey(org.id), entry);
  }
  // A validator's consensus key is a node key of its organisation, listed there or not.
  const orgIds = new Set(genesis.orgs.map((o) => o.id));
  for (const v of genesis.validators) {
    if (!orgIds.has(v.org)) {
      throw stateError(StateErrorCode.GENESIS_INVALID, `validator ${v.name} names an unknown organisation`);
    }
    claim(v.pubKey, { org: v.org, role: KeyRole.Node });
  }
  for (const [keyHex, owner] of owners) put(keyOwnerKey(fromHex(keyHex, 'key')), owner);

  const validators = sortValidatorEntries(
    genesis.validators.map((v) => ({ pubKey: fromHex(v.pubKey, 'pubKey'), org: v.org, name: v.name })),
  );
  const sets: ValidatorSetEntry[] = [{ from: 1, validators }];
  writes.push({ key: validatorSetsKey(), value: encodeEntry(sets) });
  return writes;
}

export function sortValidatorEntries(validators: readonly ValidatorEntry[]): ValidatorEntry[] {
  return validators
    .map((v) => ({ v, address: addressOf(v.pubKey) }))
    .sort((a, b) => compareBytes(a.address, b.address))
    .map(({ v }) => v);
}

export function toValidator(v: ValidatorEntry): Validator {
  return { address: addressOf(v.pubKey), pubKey: v.pubKey, org: v.org, name: v.name };
}

/** The set in force at `height`: the last one whose `from` is at or below it (genesis for 0). */
export function setAt<T>(sets: readonly { from: number; validators: readonly T[] }[], height: number): T[] {
  let chosen = sets[0];
  for (const set of sets) if (set.from <= height) chosen = set;
  return [...(chosen?.validators ?? [])];
}

export function readKeyOwner(store: StateReader, pubKey: Uint8Array): KeyOwnerEntry | undefined {
  if (pubKey.length !== 32) return undefined;
  const bytes = store.get(keyOwnerKey(pubKey));
  return bytes === undefined ? undefined : decodeKeyOwner(bytes);
}

export function readOrg(store: StateReader, id: string): OrgEntry | undefined {
  const bytes = store.get(orgKey(id));
  return bytes === undefined ? undefined : decodeOrg(bytes);
}

export function orgView(org: OrgEntry): OrgView {
  return {
    id: org.id,
    name: org.name,
    kind: org.kind,
    orgKey: toHex(org.orgKey),
    encKey: toHex(org.encKey),
    nodeKeys: org.nodeKeys.map(toHex),
  };
}
