export * from './server.js';
export * from './json.js';
