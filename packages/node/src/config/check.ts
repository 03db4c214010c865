import { existsSync } from 'node:fs';
import { MedLedgerError } from '@medledger/types';
import { PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, keyFileInfo, readEncKeyFile, readKeyFile } from '@medledger/crypto';
import { NodeErrorCode } from '../errors.js';
import { homeKeyPassphrase, homeLayout } from './home.js';
import { loadGenesis, loadNodeConfigWithSources, type ConfigSource } from './load.js';
import type { NodeConfig, NodeConfigOverrides } from './options.js';

export interface HomeCheck {
  home: string;
  config: NodeConfig;
  sources: Record<string, ConfigSource>;
  genesis: { chainId: string; orgs: number; validators: number };
  keys: {
    node: { publicKey: string; encrypted: boolean };
    org: { present: boolean; encrypted: boolean };
    /** The organisation's document key, unlocked as `start` does when the file is there. */
    enc: { present: boolean; encrypted: boolean };
  };
  /** Things that work but should not be so in production. */
  warnings: string[];
}

const LOOPBACK = /^(127\.|localhost$|::1$)/;

/**
 * Everything `medledger start` would check before it opens the database, without starting:
 * the config (file, environment, flags), the genesis, and that the node key and the document
 * key can be unlocked, with the passphrase found as `start` finds it (`homeKeyPassphrase`).
 * Throws CONFIG_INVALID (or the key file's own error) on the first problem.
 */
export function checkNodeHome(
  home: string,
  env: NodeJS.ProcessEnv = process.env,
  overrides: NodeConfigOverrides = {},
): HomeCheck {
  const layout = homeLayout(home);
  if (!existsSync(layout.nodeConfig)) {
    throw new MedLedgerError(
      NodeErrorCode.HomeMissing,
      `${home} holds no node (no config/node.json): run medledger init`,
    );
  }
  const { config, sources } = loadNodeConfigWithSources(layout.nodeConfig, env, overrides);
  const genesis = loadGenesis(layout.genesis);
  const warnings: string[] = [];
  const passphrase = homeKeyPassphrase(layout, env);
  if (!env[PASSPHRASE_ENV] && !env[PASSPHRASE_FILE_ENV] && existsSync(layout.passphrase)) {
    warnings.push(
      `the key passphrase is keys/passphrase, beside the keys: move it to a secret store and set ${PASSPHRASE_FILE_ENV}`,
    );
  }
  const nodeKey = readKeyFile(layout.nodeKey, passphrase);
  const nodeKeyHex = Buffer.from(nodeKey.publicKey).toString('hex');
  nodeKey.secretKey.fill(0);
  if (!nodeKey.encrypted) warnings.push('keys/node.key is not encrypted (development networks only)');
  const enc = { present: existsSync(layout.encKey), encrypted: false };
  if (enc.present) {
    const encKey = readEncKeyFile(layout.encKey, passphrase);
    encKey.secretKey.fill(0);
    enc.encrypted = encKey.encrypted;
    if (!enc.encrypted) warnings.push('keys/enc.key is not encrypted (development networks only)');
  } else {
    warnings.push('no keys/enc.key: this node will not hold documents');
  }
  const org = { present: existsSync(layout.orgKey), encrypted: false };
  if (org.present) {
    // Only looked at, not unlocked: the node never uses the org key.
    org.encrypted = keyFileInfo(layout.orgKey).encrypted;
    if (!org.encrypted) warnings.push('keys/org.key is not encrypted (development networks only)');
  }
  if (config.faults) warnings.push('faults is on: POST /debug/faults can cut this node off (tests only)');
  if (!LOOPBACK.test(config.api.host)) {
    warnings.push(`api.host is ${config.api.host}: the API has no authentication, expose it only to trusted networks`);
  }
  if (!genesis.orgs.some((o) => o.id === config.org)) {
    warnings.push(`org ${config.org} is not in genesis: the network admits this node once its members vote it in`);
  }
  const isGenesisValidator = genesis.validators.some((v) => v.pubKey === nodeKeyHex);
  if (config.p2p.bootstrap.length === 0 && !(isGenesisValidator && genesis.validators.length === 1)) {
    warnings.push('p2p.bootstrap is empty: this node will only be reached by peers that dial it');
  }
  return {
    home,
    config,
    sources,
    genesis: { chainId: genesis.chainId, orgs: genesis.orgs.length, validators: genesis.validators.length },
    keys: { node: { publicKey: nodeKeyHex, encrypted: nodeKey.encrypted }, org, enc },
    warnings,
  };
}
