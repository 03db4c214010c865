// Shared by the in-process modes (index, execution): a one-organisation genesis and the header
// of a block executed straight through the state machine, with no consensus around it.
import { DEFAULT_CHAIN_PARAMS, ZERO_HASH, toHex } from '@medledger/types';
import { generateKeyPair } from '@medledger/crypto';

/** One hospital with `org` as its org key and one validator node. */
export function oneOrgGenesis(chainId, org, maxBlockTxs) {
  const node = generateKeyPair();
  return {
    chainId,
    genesisTime: 1_700_000_000_000,
    params: { ...DEFAULT_CHAIN_PARAMS, maxBlockTxs: Math.max(maxBlockTxs, DEFAULT_CHAIN_PARAMS.maxBlockTxs) },
    orgs: [
      {
        id: 'hospital-0',
        name: 'Hospital 0',
        kind: 'hospital',
        orgKey: toHex(org.publicKey),
        encKey: '',
        nodeKeys: [toHex(node.publicKey)],
      },
    ],
    validators: [{ pubKey: toHex(node.publicKey), org: 'hospital-0', name: 'node0' }],
  };
}

/** What `executeBlock` reads of a header; the links and hashes a chain would check are zero. */
export function blockHeader(chainId, height, time, appHash) {
  return {
    chainId,
    height,
    round: 0,
    time,
    prevHash: ZERO_HASH,
    txRoot: ZERO_HASH,
    appHash,
    validatorsHash: ZERO_HASH,
    proposer: new Uint8Array(20),
    lastCommitHash: ZERO_HASH,
  };
}
