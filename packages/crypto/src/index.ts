export * from './errors.js';
export * from './hash.js';
export * from './ed25519.js';
export * from './merkle.js';
export * from './keyfile.js';
export * from './envelope.js';
export * from './doc-request.js';
export * from './sign-tx.js';
