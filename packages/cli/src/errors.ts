import { isMedLedgerError } from '@medledger/types';

/** Codes the CLI raises itself; errors from the client and the node keep their own codes. */
export const CliErrorCode = {
  /** Wrong or missing command-line arguments (commander's parse errors). */
  USAGE: 'USAGE',
  /** A signing command got neither --key nor --home. */
  NO_KEY: 'NO_KEY',
  /** `keys generate` would overwrite an existing key file. */
  KEY_EXISTS: 'KEY_EXISTS',
  /** `record get --out` would overwrite an existing file. */
  FILE_EXISTS: 'FILE_EXISTS',
  /** A file named on the command line cannot be read. */
  FILE_UNREADABLE: 'FILE_UNREADABLE',
  /** A node of `testnet run` exited with an error or a signal. */
  TESTNET_NODE_FAILED: 'TESTNET_NODE_FAILED',
  /** `<home>/config/node.json` is not what the CLI expects. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** Anything that is not a MedLedgerError: a bug, reported rather than dumped as a stack. */
  INTERNAL: 'INTERNAL',
} as const;
export type CliErrorCode = (typeof CliErrorCode)[keyof typeof CliErrorCode];

/** Collapses a message to one line: the contract is exactly one stderr line per failure. */
export function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** `error: CODE: message`, one line. */
export function formatError(err: unknown): string {
  if (isMedLedgerError(err)) return `error: ${err.code}: ${oneLine(err.message)}`;
  const message = err instanceof Error ? err.message : String(err);
  return `error: ${CliErrorCode.INTERNAL}: ${oneLine(message)}`;
}
