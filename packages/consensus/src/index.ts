export * from './interface.js';
export * from './errors.js';
export * from './options.js';
export * from './rules.js';
export * from './guard.js';
export { TendermintEngine, createConsensusEngine } from './engine.js';
