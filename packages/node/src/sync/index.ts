export * from './options.js';
export * from './block-sync.js';
