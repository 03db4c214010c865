import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isIPv4 } from 'node:net';
import {
  MedLedgerError,
  OrgKind,
  assertArray,
  assertRecord,
  assertString,
  isMedLedgerError,
  ORG_ID_RE,
  type GenesisOrg,
} from '@medledger/types';
import { NodeErrorCode } from './errors.js';

/** `DIR/config/org.json`: what a new organisation hands to the consortium to be voted in. */
export const ORG_FILE = 'org.json';

/**
 * The organisation descriptor: public facts only (ids, names, public keys, the node's
 * address). `medledger member propose --org org.json` turns it into a `member.add` proposal.
 */
export interface OrgDescriptor extends GenesisOrg {
  /** The node this home runs: its key is the one proposed as a validator with `--validator`. */
  node: { name: string; pubKey: string; peerId: string; p2p: string };
}

export function writeOrgDescriptor(configDir: string, org: GenesisOrg, node: OrgDescriptor['node']): void {
  const descriptor: OrgDescriptor = { ...org, node };
  writeFileSync(join(configDir, ORG_FILE), JSON.stringify(descriptor, null, 2) + '\n');
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Reads and checks an org descriptor; every problem names the field. */
export function readOrgDescriptor(path: string): OrgDescriptor {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const o = assertRecord(json, 'org');
    const kind = assertString(o.kind, 'org.kind', 32);
    if (!(Object.values(OrgKind) as string[]).includes(kind)) {
      throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `org.kind: one of ${Object.values(OrgKind).join('|')}`);
    }
    const node = assertRecord(o.node, 'org.node');
    return {
      id: assertString(o.id, 'org.id', 63, ORG_ID_RE),
      name: assertString(o.name, 'org.name', 128),
      kind: kind as OrgKind,
      orgKey: assertString(o.orgKey, 'org.orgKey', 64, HEX32),
      encKey: o.encKey === undefined || o.encKey === '' ? '' : assertString(o.encKey, 'org.encKey', 64, HEX32),
      nodeKeys: assertArray(o.nodeKeys, 'org.nodeKeys', 64).map((k, i) =>
        assertString(k, `org.nodeKeys[${i}]`, 64, HEX32),
      ),
      node: {
        name: assertString(node.name, 'org.node.name', 64),
        pubKey: assertString(node.pubKey, 'org.node.pubKey', 64, HEX32),
        peerId: typeof node.peerId === 'string' ? node.peerId : '',
        p2p: typeof node.p2p === 'string' ? node.p2p : '',
      },
    };
  } catch (err) {
    if (isMedLedgerError(err)) throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `${path}: ${err.message}`);
    throw err;
  }
}

/** A TCP multiaddr for a host: IPv4 literals as /ip4, names (docker services) as /dns4. */
export function p2pAddr(host: string, port: number): string {
  return `/${isIPv4(host) ? 'ip4' : 'dns4'}/${host}/tcp/${port}`;
}

/**
 * The URL to reach an API listening on `host`: a wildcard listen address means this machine,
 * and an IPv6 literal goes in brackets.
 */
export function apiUrl(host: string, port: number): string {
  let h = host;
  if (host === '0.0.0.0' || host === '') h = '127.0.0.1';
  else if (host === '::') h = '[::1]';
  else if (host.includes(':') && !host.startsWith('[')) h = `[${host}]`;
  return `http://${h}:${port}`;
}
