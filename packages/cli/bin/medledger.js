#!/usr/bin/env node
// The `medledger` command as npm links it. This file is checked in, executable, rather than the
// compiled dist/src/bin.js: `npm ci` links bins before anything is built, and skips a bin whose
// file does not exist yet, so node_modules/.bin/medledger would never be made. The compiled
// entry point imports the Promise.withResolvers polyfill before anything else; importing it
// whole here keeps that order.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/bin.js', import.meta.url);
if (!existsSync(entry)) {
  // The CLI's one-line error form: `error: CODE: message`.
  process.stderr.write('error: NOT_BUILT: the medledger CLI is not compiled yet: run `npm run build`\n');
  process.exit(1);
}
await import(entry.href);
