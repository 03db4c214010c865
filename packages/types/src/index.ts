export * from './errors.js';
export * from './encoding.js';
export * from './validate.js';
export * from './tx.js';
export * from './block.js';
export * from './vote.js';
export * from './genesis.js';
