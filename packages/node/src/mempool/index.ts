export * from './interface.js';
export * from './mempool.js';
