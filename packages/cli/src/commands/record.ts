import { existsSync } from 'node:fs';
import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { createRecordAnchorPayload, DocumentClient, parseTime, type RecordJson } from '@medledger/client';
import { BREAK_GLASS_REASONS, PURPOSES, isBreakGlassReason, MedLedgerError } from '@medledger/types';
import { chainClient, loadEncKey, signingAccount } from '../context.js';
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

interface GetOptions extends SigningOptions {
  id: string;
  purpose: string;
  breakGlass?: string;
  out: string;
  force?: boolean;
  encKey?: string;
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

/** The document's bytes. They are encrypted here and never printed, logged or sent in the clear. */
async function readDocument(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new MedLedgerError(CliErrorCode.FILE_UNREADABLE, `cannot read ${path}: ${code}`, { file: path });
  }
}

function outExists(path: string): MedLedgerError {
  return new MedLedgerError(CliErrorCode.FILE_EXISTS, `${path} exists; use --force to overwrite it`, { file: path });
}

/**
 * Written next to the target and moved there, owner-only: a half-written or world-readable copy
 * never exists. Without `overwrite`, the move is a hard link, which fails if the target appeared
 * meanwhile instead of replacing it.
 */
async function writeDocument(path: string, content: Uint8Array, overwrite: boolean): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, content, { mode: 0o600 });
    if (overwrite) {
      await rename(tmp, path);
    } else {
      await link(tmp, path);
      await unlink(tmp);
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (code === 'EEXIST') throw outExists(path);
    throw new MedLedgerError(CliErrorCode.FILE_UNREADABLE, `cannot write ${path}: ${code}`, { file: path });
  }
}

function recordLine(r: RecordJson): string {
  return `${r.id}  ${r.resourceType}  v${r.version}  by ${r.author}  ${isoTime(r.createdAt)}  ${r.contentHash}`;
}

export function registerRecordCommands(program: Command): void {
  const record = program.command('record').description('records anchored by content hash');

  withSigningOptions(
    record
      .command('add')
      .description(
        'encrypt a document (fresh data key, wrapped for the author organisation and the patient), anchor the ' +
          "ciphertext's sha256 and size, wait for the commit, and upload the ciphertext to this node",
      )
      .requiredOption('--patient <id>', 'patient id')
      .requiredOption('--type <type>', 'FHIR resource type, e.g. Observation')
      .requiredOption('--file <doc>', 'the document (FHIR JSON or any bytes); it leaves this process only encrypted')
      .option('--previous <id>', 'the record this version amends'),
  ).action(
    action<AddOptions>(async (opts) => {
      // Checked before the key is read or the node contacted, so bad input costs no request.
      const check = { patient: opts.patient, resourceType: opts.type, previous: opts.previous ?? null };
      createRecordAnchorPayload({ ...check, contentHash: new Uint8Array(32), size: 0 });
      const content = await readDocument(opts.file);
      const account = await signingAccount(opts);
      const docs = new DocumentClient({ client: chainClient(opts), account });
      const r = await docs.write({ ...check, content });
      content.fill(0);
      return {
        json: { record: r.record, tx: r.tx, height: r.height, contentHash: r.contentHash, size: r.size },
        text: `added record ${r.record}: encrypted, anchored (sha256 ${r.contentHash}, ${r.size} bytes; tx ${r.tx}, height ${r.height}) and uploaded`,
      };
    }),
  );

  withSigningOptions(
    record
      .command('get')
      .description(
        "fetch a record's document through this node from its holder (which checks consent and logs the " +
          "access on chain), check it against the anchored hash, decrypt it with the organisation's enc key",
      )
      .requiredOption('--id <id>', 'record id')
      .requiredOption('--purpose <purpose>', `purpose of use: ${PURPOSES.join(', ')}`)
      .option(
        '--break-glass <code>',
        `emergency access without consent, with a reason code (${BREAK_GLASS_REASONS.join(', ')}), ` +
          'recorded on chain and shown to the patient; keep any free-text justification in your own systems',
      )
      .requiredOption('--out <file>', 'where to write the document (mode 0600); an existing file needs --force')
      .option('--force', 'overwrite an existing --out file')
      .option('--enc-key <file>', "the organisation's x25519 key file (default with --home: <home>/keys/enc.key)"),
  ).action(
    action<GetOptions>(async (opts) => {
      // Coded only, and the value is not echoed: it goes on chain, and free text could name the patient.
      if (opts.breakGlass !== undefined && !isBreakGlassReason(opts.breakGlass)) {
        throw new MedLedgerError(
          CliErrorCode.USAGE,
          `--break-glass: expected one of ${BREAK_GLASS_REASONS.join(', ')}`,
        );
      }
      // Like `keys generate`: a document read earlier is never replaced by accident, and the
      // check comes before the read, which the holder logs on chain.
      if (!opts.force && existsSync(opts.out)) throw outExists(opts.out);
      const encKey = loadEncKey(opts);
      const account = await signingAccount(opts);
      const docs = new DocumentClient({ client: chainClient(opts), account, encKey });
      const r = await docs.read({ record: opts.id, purpose: opts.purpose, breakGlass: opts.breakGlass ?? null });
      await writeDocument(opts.out, r.content, !!opts.force);
      const size = r.content.length;
      r.content.fill(0);
      const basis = r.breakGlass !== null ? 'BREAK-GLASS (flagged in the audit trail)' : `consent ${r.consent}`;
      return {
        json: {
          record: opts.id,
          out: opts.out,
          size,
          accessTx: r.accessTx,
          consent: r.consent,
          breakGlass: r.breakGlass,
        },
        text: `wrote ${size} bytes of record ${opts.id} to ${opts.out} (${basis}; access tx ${r.accessTx})`,
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
