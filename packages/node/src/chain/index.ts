export * from './chain.js';
export * from './verified-txs.js';
