export * from './block-sync.js';
