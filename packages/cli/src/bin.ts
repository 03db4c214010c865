#!/usr/bin/env node
import '@medledger/types/polyfill';
import { run } from './program.js';

// exitCode rather than process.exit(): stdout (possibly a pipe) is flushed before the process ends.
process.exitCode = await run(process.argv);
