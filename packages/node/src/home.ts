import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DEFAULT_CHAIN_PARAMS,
  MedLedgerError,
  OrgKind,
  toHex,
  type ChainParams,
  type Genesis,
  type GenesisOrg,
} from '@medledger/types';
import {
  addressHex,
  generateEncKeyPair,
  generateKeyPair,
  writeKeyFile,
  type Ed25519KeyPair,
  type X25519KeyPair,
} from '@medledger/crypto';
import { peerIdFromNodePublicKey } from '@medledger/network';
import { DEFAULT_NODE_CONFIG, homeLayout, type NodeConfig } from './config/index.js';
import { NodeErrorCode } from './errors.js';
import { apiUrl, p2pAddr, writeOrgDescriptor } from './consortium.js';

export interface InitNodeOptions {
  home: string;
  chainId?: string;
  name?: string;
  orgId?: string;
  orgName?: string;
  apiPort?: number;
  p2pPort?: number;
  /** Encrypts both key files; without it they are written in the clear (development only). */
  passphrase?: string;
  params?: Partial<ChainParams>;
  /** Genesis time in ms; default: now. Only `init` reads the clock, never the state machine. */
  genesisTime?: number;
}

export interface InitializedNode {
  home: string;
  name: string;
  orgId: string;
  orgKeyFile: string;
  /** The organisation's x25519 document key file (`keys/enc.key`, ADR 0006). */
  encKeyFile: string;
  nodeKey: Ed25519KeyPair;
  orgKey: Ed25519KeyPair;
  peerId: string;
  validatorAddress: string;
  api: string;
  p2p: string;
}

export interface NodeIdentity {
  name: string;
  orgId: string;
  orgName: string;
  orgKey: Ed25519KeyPair;
  nodeKey: Ed25519KeyPair;
  /** x25519: documents for this organisation are wrapped to it (ADR 0006). */
  encKey: X25519KeyPair;
}

export function newIdentity(name: string, orgId: string, orgName: string): NodeIdentity {
  return { name, orgId, orgName, orgKey: generateKeyPair(), nodeKey: generateKeyPair(), encKey: generateEncKeyPair() };
}

export function genesisOrg(id: NodeIdentity): GenesisOrg {
  return {
    id: id.orgId,
    name: id.orgName,
    kind: OrgKind.Hospital,
    orgKey: toHex(id.orgKey.publicKey),
    encKey: toHex(id.encKey.publicKey),
    nodeKeys: [toHex(id.nodeKey.publicKey)],
  };
}

export function writeHome(
  home: string,
  id: NodeIdentity,
  genesis: Genesis,
  config: NodeConfig,
  passphrase: string | undefined,
): InitializedNode {
  const layout = homeLayout(home);
  if (existsSync(layout.nodeConfig) || existsSync(layout.genesis)) {
    throw new MedLedgerError(NodeErrorCode.HomeExists, `${home} already holds a node; choose another --home`);
  }
  mkdirSync(layout.config, { recursive: true });
  mkdirSync(layout.data, { recursive: true });
  writeKeyFile(layout.orgKey, id.orgKey, passphrase);
  writeKeyFile(layout.nodeKey, id.nodeKey, passphrase);
  writeKeyFile(layout.encKey, id.encKey, passphrase, 'x25519');
  writeFileSync(layout.genesis, JSON.stringify(genesis, null, 2) + '\n');
  writeFileSync(layout.nodeConfig, JSON.stringify(config, null, 2) + '\n');
  const peerId = peerIdFromNodePublicKey(id.nodeKey.publicKey);
  // What the organisation hands to the consortium to be voted in (ADR 0007).
  writeOrgDescriptor(layout.config, genesisOrg(id), {
    name: id.name,
    pubKey: toHex(id.nodeKey.publicKey),
    peerId,
    p2p: `${p2pAddr(config.p2p.host, config.p2p.port)}/p2p/${peerId}`,
  });
  return {
    home,
    name: id.name,
    orgId: id.orgId,
    orgKeyFile: layout.orgKey,
    encKeyFile: layout.encKey,
    nodeKey: id.nodeKey,
    orgKey: id.orgKey,
    peerId,
    validatorAddress: addressHex(id.nodeKey.publicKey),
    api: apiUrl(config.api.host, config.api.port),
    p2p: `${p2pAddr(config.p2p.host, config.p2p.port)}/p2p/${peerId}`,
  };
}

export function nodeConfig(
  name: string,
  org: string,
  apiPort: number,
  p2pPort: number,
  bootstrap: string[],
  faults: boolean,
): NodeConfig {
  return {
    ...structuredClone(DEFAULT_NODE_CONFIG),
    name,
    org,
    api: { ...DEFAULT_NODE_CONFIG.api, port: apiPort },
    p2p: { ...DEFAULT_NODE_CONFIG.p2p, port: p2pPort, bootstrap },
    faults,
  };
}

/** A one-validator network in one home: its own organisation, keys and genesis. */
export function initNodeHome(opts: InitNodeOptions): InitializedNode {
  const home = resolve(opts.home);
  const id = newIdentity(opts.name ?? 'node0', opts.orgId ?? 'hospital-0', opts.orgName ?? 'Hospital 0');
  const genesis: Genesis = {
    chainId: opts.chainId ?? 'medledger-local',
    genesisTime: opts.genesisTime ?? Date.now(),
    params: { ...DEFAULT_CHAIN_PARAMS, ...opts.params },
    orgs: [genesisOrg(id)],
    validators: [{ pubKey: toHex(id.nodeKey.publicKey), org: id.orgId, name: id.name }],
  };
  const config = nodeConfig(
    id.name,
    id.orgId,
    opts.apiPort ?? DEFAULT_NODE_CONFIG.api.port,
    opts.p2pPort ?? DEFAULT_NODE_CONFIG.p2p.port,
    [],
    false,
  );
  return writeHome(home, id, genesis, config, opts.passphrase);
}

export interface TestnetOptions {
  validators: number;
  dir: string;
  /** Node i serves its API on basePort + i and listens for peers on basePort + 100 + i. */
  basePort?: number;
  chainId?: string;
  /** Enables the fault-injection endpoint (partition tests). */
  faults?: boolean;
  params?: Partial<ChainParams>;
  /**
   * Per node, the host the others dial: an IPv4 address or a DNS name (docker service names,
   * network-namespace addresses). Default 127.0.0.1 for every node.
   */
  hosts?: string[];
  /** Where every node listens (API and p2p); default: its own entry of `hosts`. */
  listenHost?: string;
}

export interface TestnetNode {
  name: string;
  home: string;
  api: string;
  p2p: string;
  peerId: string;
  orgId: string;
  orgKey: string;
  /** Path of the organisation's x25519 document key file. */
  encKey: string;
  validatorAddress: string;
}

export interface TestnetManifest {
  chainId: string;
  nodes: TestnetNode[];
}

export const TESTNET_FILE = 'testnet.json';

/** Testnet pacing: an empty block at least every second so a developer sees blocks flow. */
export const TESTNET_PARAMS: Partial<ChainParams> = { emptyBlockIntervalMs: 500 };

/**
 * Signature-checking threads for a node of an N-node testnet on this machine: its share of the
 * cores less the main thread, at most the default. With 4 nodes on 2 cores the threads added
 * memory (~25 MB each) and no throughput: 0 threads measured 288 MB peak RSS and 1,027
 * committed tx/s against 344–357 MB and 964–1,023 tx/s with 2 (ADR 0008).
 */
export function testnetVerifyThreads(nodes: number, cores = availableParallelism()): number {
  return Math.min(DEFAULT_NODE_CONFIG.mempool.verifyThreads, Math.max(0, Math.floor(cores / nodes) - 1));
}

/**
 * Environment for the node processes a launcher starts (`testnet start`, the image, the bench).
 * glibc gives threads that allocate their own malloc arenas, and a node's libuv, LevelDB and V8
 * helper threads then keep freed memory mapped: two arenas measured ~50 MB less peak RSS per
 * node at 1,000 tx/s with the same CPU per tx (ADR 0008).
 */
export const NODE_PROCESS_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** N validator homes sharing one genesis, and `DIR/testnet.json` listing every node. */
export function initTestnet(opts: TestnetOptions): TestnetManifest {
  const n = opts.validators;
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, '--validators must be 1..64');
  const dir = resolve(opts.dir);
  const basePort = opts.basePort ?? 26600;
  if (!Number.isInteger(basePort) || basePort < 1024 || basePort + 100 + n > 65535) {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, '--base-port must leave room for 100 + N ports below 65536');
  }
  if (existsSync(join(dir, TESTNET_FILE)))
    throw new MedLedgerError(NodeErrorCode.HomeExists, `${dir} already holds a testnet`);
  const ids = Array.from({ length: n }, (_, i) => newIdentity(`node${i}`, `hospital-${i}`, `Hospital ${i}`));
  const genesis: Genesis = {
    chainId: opts.chainId ?? 'medledger-testnet',
    genesisTime: Date.now(),
    params: { ...DEFAULT_CHAIN_PARAMS, ...TESTNET_PARAMS, ...opts.params },
    orgs: ids.map(genesisOrg),
    validators: ids.map((id) => ({ pubKey: toHex(id.nodeKey.publicKey), org: id.orgId, name: id.name })),
  };
  const hosts = opts.hosts ?? ids.map(() => '127.0.0.1');
  if (hosts.length !== n) throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `give ${n} hosts, one per node`);
  const p2p = ids.map(
    (id, i) => `${p2pAddr(hosts[i]!, basePort + 100 + i)}/p2p/${peerIdFromNodePublicKey(id.nodeKey.publicKey)}`,
  );
  const nodes = ids.map((id, i) => {
    const config = nodeConfig(
      id.name,
      id.orgId,
      basePort + i,
      basePort + 100 + i,
      p2p.filter((_, j) => j !== i),
      opts.faults ?? false,
    );
    config.api.host = config.p2p.host = opts.listenHost ?? hosts[i]!;
    config.mempool.verifyThreads = testnetVerifyThreads(n);
    const made = writeHome(join(dir, id.name), id, genesis, config, undefined);
    return {
      name: made.name,
      home: made.home,
      api: opts.listenHost ? apiUrl(hosts[i]!, config.api.port) : made.api,
      p2p: p2p[i]!,
      peerId: made.peerId,
      orgId: made.orgId,
      orgKey: made.orgKeyFile,
      encKey: made.encKeyFile,
      validatorAddress: made.validatorAddress,
    };
  });
  const manifest = { chainId: genesis.chainId, nodes };
  writeFileSync(join(dir, TESTNET_FILE), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}
