export * from './errors.js';
export * from './options.js';
export * from './output.js';
export * from './context.js';
export { createProgram, run } from './program.js';
