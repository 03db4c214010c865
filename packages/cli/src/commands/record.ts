import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Command } from 'commander';
import { createRecordAnchorPayload, parseTime, type RecordJson } from '@medledger/client';
import { MedLedgerError, toHex, TxType } from '@medledger/types';
import { chainClient, signingAccount } from '../context.js';
import { CliErrorCode } from '../errors.js';
import {
  parseIntOption,
  withChainOptions,
  withSigningOptions,
  type ChainOptions,
  type SigningOptions,
} from '../options.js';
import { action, isoTime } from '../output.js';

interface AddOptions extends SigningOptions {
  patient: string;
  type: string;
  file: string;
  previous?: string;
}

interface ListOptions extends ChainOptions {
  patient: string;
  type?: string;
  author?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
}

/**
 * sha256 and size of a file, streamed so a large document (imaging) never sits in memory. The
 * content is only hashed: it is never printed, logged or sent.
 */
async function hashFile(path: string): Promise<{ contentHash: Uint8Array; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new MedLedgerError(CliErrorCode.FILE_UNREADABLE, `cannot read ${path}: ${code}`, { file: path });
  }
  return { contentHash: new Uint8Array(hash.digest()), size };
}

function recordLine(r: RecordJson): string {
  return `${r.id}  ${r.resourceType}  v${r.version}  by ${r.author}  ${isoTime(r.createdAt)}  ${r.contentHash}`;
}

export function registerRecordCommands(program: Command): void {
  const record = program.command('record').description('records anchored by content hash');

  withSigningOptions(
    record
      .command('add')
      .description("anchor a document's sha256 and size (the document stays here) and wait for the commit")
      .requiredOption('--patient <id>', 'patient id')
      .requiredOption('--type <type>', 'FHIR resource type, e.g. Observation')
      .requiredOption('--file <doc>', 'the document; only its hash and size go on chain')
      .option('--previous <id>', 'the record this version amends'),
  ).action(
    action<AddOptions>(async (opts) => {
      // The payload is built and checked before the node is contacted, so bad input costs no request.
      const { contentHash, size } = await hashFile(opts.file);
      const payload = createRecordAnchorPayload({
        patient: opts.patient,
        resourceType: opts.type,
        contentHash,
        size,
        previous: opts.previous ?? null,
      });
      const account = await signingAccount(opts);
      const r = await account.send(TxType.RecordAnchor, payload, { wait: 'commit' });
      const hashHex = toHex(contentHash);
      return {
        json: { record: payload.record, tx: r.hash, height: r.height, contentHash: hashHex, size },
        text: `anchored record ${payload.record} (sha256 ${hashHex}, ${size} bytes; tx ${r.hash}, height ${r.height})`,
      };
    }),
  );

  withChainOptions(record.command('show').description('one record').requiredOption('--id <id>', 'record id')).action(
    action<ChainOptions & { id: string }>(async (opts) => {
      const body = await chainClient(opts).record(opts.id);
      const r = body.record;
      return {
        json: body,
        text: [
          `record:       ${r.id}`,
          `patient:      ${r.patient}`,
          `author:       ${r.author}`,
          `type:         ${r.resourceType}`,
          `version:      ${r.version}${r.previous ? ` (amends ${r.previous})` : ''}`,
          `content hash: ${r.contentHash}`,
          `size:         ${r.size}`,
          `created:      ${isoTime(r.createdAt)} (height ${r.height})`,
        ].join('\n'),
      };
    }),
  );

  const records = program.command('records').description('record index queries');
  withChainOptions(
    records
      .command('list')
      .description("a patient's records, oldest first, one page at a time")
      .requiredOption('--patient <id>', 'patient id')
      .option('--type <type>', 'only this FHIR resource type')
      .option('--author <org>', 'only records authored by this organisation')
      .option('--since <time>', 'from this time (ISO 8601 or ms since the epoch)')
      .option('--until <time>', 'up to this time (ISO 8601 or ms since the epoch)')
      .option('--limit <n>', 'page size, 1-500', parseIntOption(1, 500))
      .option('--cursor <cursor>', 'the "next" cursor of the previous page'),
  ).action(
    action<ListOptions>(async (opts) => {
      const body = await chainClient(opts).records({
        patient: opts.patient,
        type: opts.type,
        author: opts.author,
        since: opts.since === undefined ? undefined : parseTime(opts.since, '--since'),
        until: opts.until === undefined ? undefined : parseTime(opts.until, '--until'),
        limit: opts.limit,
        cursor: opts.cursor,
      });
      const lines = body.records.map(recordLine);
      if (lines.length === 0) lines.push('no records');
      if (body.next) lines.push(`more: --cursor ${body.next}`);
      return { json: body, text: lines.join('\n') };
    }),
  );
}
