export * from './interface.js';
export * from './errors.js';
export * from './options.js';
export * from './buckets.js';
export * from './database.js';
export * from './block-store.js';
export * from './wal.js';
