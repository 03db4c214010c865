// First: libp2p 3 calls Promise.withResolvers, which Node 20 lacks.
import '@medledger/types/polyfill';

export * from './interface.js';
export * from './errors.js';
export * from './options.js';
export type { NetworkMetrics, GossipDropReason, RequestOutcome } from './metrics.js';
export { createNetwork, Libp2pNetwork, type NetworkModules } from './network.js';
export { peerIdFromNodePublicKey, publicKeyFromPeerId } from './keys.js';
export { topics, protocols } from './names.js';
export { RemoteErrorMessage } from './reqresp.js';
