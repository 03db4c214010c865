import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs to stdout and to the node's log file. Redaction is a second line of
 * defence: no code path logs keys or document content in the first place.
 */
export function createLogger(opts: { level: string; name: string; file?: string; stdout?: boolean }): Logger {
  const streams: pino.StreamEntry[] = [];
  if (opts.stdout !== false) streams.push({ stream: process.stdout });
  if (opts.file) {
    mkdirSync(dirname(opts.file), { recursive: true });
    streams.push({ stream: pino.destination({ dest: opts.file, sync: false, mkdir: true }) });
  }
  return pino(
    {
      level: opts.level,
      base: { node: opts.name },
      redact: {
        paths: [
          'secretKey',
          '*.secretKey',
          'passphrase',
          '*.passphrase',
          'content',
          '*.content',
          // Documents (ADR 0006): never logged; redacted should a code path ever try.
          'dataKey',
          '*.dataKey',
          'ciphertext',
          '*.ciphertext',
          'wrappedKey',
          '*.wrappedKey',
        ],
        censor: '[redacted]',
      },
    },
    pino.multistream(streams.map((s) => ({ ...s, level: opts.level as pino.Level }))),
  );
}
