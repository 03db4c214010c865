import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MedLedgerError, OrgKind } from '@medledger/types';
import { DEFAULT_NODE_CONFIG, homeLayout, loadGenesis } from './config/index.js';
import { NodeErrorCode } from './errors.js';
import { genesisOrg, newIdentity, nodeConfig, writeHome, type InitializedNode } from './home.js';
import { ORG_FILE, readOrgDescriptor, writeOrgDescriptor } from './consortium.js';

export interface JoinNodeOptions {
  home: string;
  /** The consortium's genesis file. */
  genesisFile: string;
  /** Multiaddrs (ending in /p2p/<peerId>) of existing nodes to sync from once admitted. */
  peers: string[];
  orgId: string;
  orgName: string;
  kind?: OrgKind;
  name?: string;
  apiPort?: number;
  p2pPort?: number;
  apiHost?: string;
  p2pHost?: string;
  passphrase?: string;
}

/**
 * A home for an organisation joining a running consortium: the consortium's genesis, new keys,
 * the given peers as bootstrap. The node syncs the chain from height 0 once the members have
 * voted its organisation in (until then their connection gaters refuse it).
 */
export function initMemberHome(opts: JoinNodeOptions): InitializedNode {
  const home = resolve(opts.home);
  if (!existsSync(opts.genesisFile)) {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, `no genesis file at ${opts.genesisFile}`);
  }
  const genesis = loadGenesis(opts.genesisFile);
  if (genesis.orgs.some((o) => o.id === opts.orgId)) {
    throw new MedLedgerError(
      NodeErrorCode.ConfigInvalid,
      `organisation ${opts.orgId} is already in genesis: choose this organisation's own --org`,
    );
  }
  if (opts.peers.length === 0) {
    throw new MedLedgerError(NodeErrorCode.ConfigInvalid, '--peers: give at least one node of the consortium');
  }
  const id = newIdentity(opts.name ?? 'node0', opts.orgId, opts.orgName);
  const config = nodeConfig(
    id.name,
    id.orgId,
    opts.apiPort ?? DEFAULT_NODE_CONFIG.api.port,
    opts.p2pPort ?? DEFAULT_NODE_CONFIG.p2p.port,
    opts.peers,
    false,
  );
  if (opts.apiHost) config.api.host = opts.apiHost;
  if (opts.p2pHost) config.p2p.host = opts.p2pHost;
  const made = writeHome(home, id, genesis, config, opts.passphrase);
  if (opts.kind && opts.kind !== OrgKind.Hospital) {
    // genesisOrg() writes a hospital; the descriptor carries the kind the organisation asked for.
    const layout = homeLayout(home);
    const descriptor = readOrgDescriptor(join(layout.config, ORG_FILE));
    writeOrgDescriptor(layout.config, { ...genesisOrg(id), kind: opts.kind }, descriptor.node);
  }
  return made;
}
