export * from './options.js';
export * from './home.js';
export * from './load.js';
export * from './check.js';
