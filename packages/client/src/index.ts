export * from './errors.js';
export * from './options.js';
export * from './interface.js';
export * from './tx.js';
export * from './payloads.js';
export * from './client.js';
export * from './account.js';
export * from './documents.js';
