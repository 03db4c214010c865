import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addressHex, readKeyFile } from '@medledger/crypto';
import { MedLedgerError, toHex } from '@medledger/types';

/** The CLI runs as a real OS process, the way operators and the e2e tests run it. */
const BIN = fileURLToPath(new URL('../src/bin.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'medledger-cli-'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  // A clean environment: a MEDLEDGER_* variable of the developer's shell must not leak in.
  const base = { PATH: process.env.PATH ?? '', HOME: dir };
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...base, ...env }, cwd: dir }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const lines = (s: string) => s.split('\n').filter((l) => l !== '');

/** Exit non-zero, nothing on stdout, exactly one stderr line: `error: CODE: message`. */
function assertFailure(r: Run, code: string): void {
  assert.notEqual(r.code, 0, `expected a failure, got ${JSON.stringify(r)}`);
  assert.equal(r.stdout, '');
  const err = lines(r.stderr);
  assert.equal(err.length, 1, `expected one stderr line, got ${JSON.stringify(r.stderr)}`);
  assert.match(err[0]!, new RegExp(`^error: ${code}: \\S`));
}

/** Exactly one JSON object on stdout. */
function parseJson(r: Run): Record<string, unknown> {
  assert.equal(r.code, 0, r.stderr);
  assert.equal(lines(r.stdout).length, 1, `expected one line on stdout, got ${JSON.stringify(r.stdout)}`);
  const v: unknown = JSON.parse(r.stdout);
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v));
  return v as Record<string, unknown>;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

// A tiny HTTP double: a fixed /status body and the API's error body for everything else.
const STATUS = { chainId: 'cli-test', nodeId: 'n1', validatorAddress: 'ab'.repeat(20), height: 3, peers: 0 };
const server = createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/status') return res.end(JSON.stringify(STATUS));
  res.statusCode = 404;
  res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'record not found\nsecond line' } }));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

test('--help lists the commands and exits 0', async () => {
  const r = await cli(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage: medledger/);
  for (const c of ['keys', 'status', 'patient', 'record', 'records', 'consent', 'consents', 'audit', 'tx', 'block']) {
    assert.match(r.stdout, new RegExp(`^  ${c}\\b`, 'm'), `--help lists ${c}`);
  }
  assert.equal(r.stderr, '');
  const sub = await cli(['consent', 'grant', '--help']);
  assert.equal(sub.code, 0);
  for (const o of ['--api', '--json', '--key', '--home', '--patient', '--grantee', '--types', '--purpose']) {
    assert.ok(sub.stdout.includes(o), `consent grant --help shows ${o}`);
  }
});

test('keys generate writes a plain key file, warns on stderr and prints publicKey and address', async () => {
  const out = join(dir, 'plain.key');
  const r = await cli(['keys', 'generate', '--out', out, '--json']);
  const json = parseJson(r);
  assert.deepEqual(Object.keys(json).sort(), ['address', 'publicKey']);
  const key = readKeyFile(out);
  assert.equal(key.encrypted, false);
  assert.equal(json.publicKey, toHex(key.publicKey));
  assert.equal(json.address, addressHex(key.publicKey));
  assert.equal(statSync(out).mode & 0o777, 0o600);
  assert.match(r.stderr, /^warning: .*not encrypted|^warning: .*unencrypted/);

  // An existing key file is never overwritten by accident.
  const again = await cli(['keys', 'generate', '--out', out]);
  assertFailure(again, 'KEY_EXISTS');
  assert.deepEqual(readKeyFile(out).publicKey, key.publicKey);
});

test('keys generate --encrypt takes the passphrase from the environment; the file holds no seed', async () => {
  const out = join(dir, 'enc.key');
  const r = await cli(['keys', 'generate', '--out', out, '--encrypt', '--json'], {
    MEDLEDGER_KEY_PASSPHRASE: 'correct horse battery staple',
  });
  const json = parseJson(r);
  assert.equal(r.stderr, '', 'no warning for an encrypted key');
  const text = readFileSync(out, 'utf8');
  const key = readKeyFile(out, 'correct horse battery staple');
  assert.equal(key.encrypted, true);
  assert.equal(json.publicKey, toHex(key.publicKey));
  assert.ok(!text.includes(toHex(key.secretKey)), 'the file must not contain the seed hex');
  assert.ok(!text.includes('secretKey'));
  assert.throws(
    () => readKeyFile(out),
    (e: unknown) => e instanceof MedLedgerError && e.code === 'CRYPTO_NO_PASSPHRASE',
  );

  // The passphrase may also come from a file.
  const passFile = join(dir, 'pass.txt');
  writeFileSync(passFile, 'from a file\n', { mode: 0o600 });
  const viaFile = join(dir, 'enc2.key');
  parseJson(
    await cli(['keys', 'generate', '--out', viaFile, '--encrypt', '--json'], {
      MEDLEDGER_KEY_PASSPHRASE_FILE: passFile,
    }),
  );
  assert.equal(readKeyFile(viaFile, 'from a file').encrypted, true);
});

test('keys generate --encrypt without a passphrase fails clearly and writes nothing', async () => {
  const out = join(dir, 'nopass.key');
  assertFailure(await cli(['keys', 'generate', '--out', out, '--encrypt', '--json']), 'CRYPTO_NO_PASSPHRASE');
  assert.equal(existsSync(out), false);
});

test('status --json prints the node status as exactly one JSON object', async () => {
  assert.deepEqual(parseJson(await cli(['status', '--api', api, '--json'])), STATUS);
  // MEDLEDGER_API is the default when --api is absent.
  assert.deepEqual(parseJson(await cli(['status', '--json'], { MEDLEDGER_API: api })), STATUS);
  // --home gives the API through <home>/config/node.json.
  const home = join(dir, 'home');
  const config = join(home, 'config');
  mkdirSync(config, { recursive: true });
  // The node's own form, { host, port }, and a plain URL string.
  const { port } = server.address() as AddressInfo;
  writeFileSync(join(config, 'node.json'), JSON.stringify({ name: 'n', api: { host: '0.0.0.0', port } }));
  assert.deepEqual(parseJson(await cli(['status', '--home', home, '--json'])), STATUS);
  writeFileSync(join(config, 'node.json'), JSON.stringify({ api }));
  assert.deepEqual(parseJson(await cli(['status', '--home', home, '--json'])), STATUS);
  // --api wins over the home's config.
  assertFailure(await cli(['status', '--home', home, '--api', `http://127.0.0.1:${await freePort()}`]), 'UNREACHABLE');
});

test('--home prefers the API of the node running there, and ignores the record of one gone', async () => {
  const home = join(dir, 'running');
  mkdirSync(join(home, 'config'), { recursive: true });
  mkdirSync(join(home, 'data'));
  // node.json names a port where nothing listens; `start --api-port` moved the node elsewhere.
  writeFileSync(
    join(home, 'config', 'node.json'),
    JSON.stringify({ api: { host: '127.0.0.1', port: await freePort() } }),
  );
  const record = (pid: number) =>
    writeFileSync(
      join(home, 'data', 'api.json'),
      JSON.stringify({ pid, api: { host: '127.0.0.1', port: (server.address() as AddressInfo).port } }),
    );
  // This test's process stands for the running node.
  record(process.pid);
  assert.deepEqual(parseJson(await cli(['status', '--home', home, '--json'])), STATUS);
  // A node killed before it could remove its record: node.json is used again.
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => gone.once('exit', r));
  record(gone.pid!);
  assertFailure(await cli(['status', '--home', home, '--json']), 'UNREACHABLE');
});

test('an error answer from the API exits non-zero with its code on one stderr line', async () => {
  assertFailure(await cli(['record', 'show', '--id', 'ab'.repeat(16), '--api', api, '--json']), 'NOT_FOUND');
});

test('a command against an API where nothing listens fails with exactly one stderr line', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const r = await cli(['status', '--api', dead, '--json']);
  assertFailure(r, 'UNREACHABLE');
  assert.match(r.stderr, /ECONNREFUSED/);

  // A signing command with an unencrypted key: the key warning is dropped, the error is the one line.
  const key = join(dir, 'signer.key');
  parseJson(await cli(['keys', 'generate', '--out', key, '--json']));
  assertFailure(await cli(['patient', 'register', '--key', key, '--api', dead, '--json']), 'UNREACHABLE');

  // The document is read and hashed locally, but its content never shows up in any output.
  const doc = join(dir, 'note.json');
  writeFileSync(doc, '{"resourceType":"Observation","note":"CONFIDENTIAL-CONTENT"}');
  const add = await cli([
    'record',
    'add',
    '--patient',
    'cd'.repeat(16),
    '--type',
    'Observation',
    '--file',
    doc,
    '--key',
    key,
    '--api',
    dead,
  ]);
  assertFailure(add, 'UNREACHABLE');
  assert.ok(!add.stderr.includes('CONFIDENTIAL') && !add.stdout.includes('CONFIDENTIAL'));
});

test('usage errors and missing keys are one-line failures too', async () => {
  assertFailure(await cli(['status', '--bogus']), 'USAGE');
  assertFailure(await cli(['records', 'list', '--patient', 'ab'.repeat(16), '--limit', '0', '--api', api]), 'USAGE');
  assertFailure(await cli(['consent', 'revoke', '--api', api]), 'USAGE');
  assertFailure(await cli(['consent', 'revoke', '--consent', 'ab'.repeat(16), '--api', api]), 'NO_KEY');
  assertFailure(await cli(['no-such-command']), 'USAGE');
});

test('record get --out refuses an existing file without --force, before the key or the node', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const out = join(dir, 'earlier-read.json');
  writeFileSync(out, 'a document read earlier');
  const missingKey = join(dir, 'missing.key');
  const args = ['record', 'get', '--id', 'ab'.repeat(16), '--purpose', 'treatment', '--out', out];
  const keys = ['--key', missingKey, '--enc-key', missingKey, '--api', dead];
  const refused = await cli([...args, ...keys, '--json']);
  assertFailure(refused, 'FILE_EXISTS');
  assert.match(refused.stderr, /--force/);
  // --force gets past the check, to the (missing) key; the file is untouched until a read succeeds.
  const forced = await cli([...args, ...keys, '--force', '--json']);
  assert.notEqual(forced.code, 0);
  assert.doesNotMatch(forced.stderr, /FILE_EXISTS/);
  assert.equal(readFileSync(out, 'utf8'), 'a document read earlier');
});

test('record get --break-glass takes a reason code only, lists the codes, never echoes the value', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  const missingKey = join(dir, 'missing.key');
  const out = join(dir, 'break-glass.json');
  const args = ['record', 'get', '--id', 'ab'.repeat(16), '--purpose', 'emergency', '--out', out];
  const keys = ['--key', missingKey, '--enc-key', missingKey, '--api', dead];
  const help = await cli(['record', 'get', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout.replace(/\s+/g, ' '), /unconscious, life-threatening, urgent-treatment/);
  const freeText = await cli([...args, '--break-glass', 'John Doe unconscious after overdose', ...keys]);
  assertFailure(freeText, 'USAGE');
  assert.match(freeText.stderr, /--break-glass: expected one of unconscious, life-threatening,/);
  assert.doesNotMatch(freeText.stderr, /John|Doe|overdose/);
  // A code gets past the check, to the (missing) key.
  const coded = await cli([...args, '--break-glass', 'unconscious', ...keys]);
  assert.notEqual(coded.code, 0);
  assert.doesNotMatch(coded.stderr, /USAGE/);
  assert.equal(existsSync(out), false);
});

test('bad input is refused before the key is read or the node is contacted', async () => {
  // Neither the key file nor a node exists: a shape error proves the input was checked first.
  const dead = `http://127.0.0.1:${await freePort()}`;
  const doc = join(dir, 'doc.txt');
  writeFileSync(doc, 'x');
  const missingKey = join(dir, 'missing.key');
  const badType = await cli([
    'record',
    'add',
    '--patient',
    'cd'.repeat(16),
    '--type',
    'observation',
    '--file',
    doc,
    '--key',
    missingKey,
    '--api',
    dead,
  ]);
  assertFailure(badType, 'INVALID_SHAPE');
  assert.match(badType.stderr, /payload\.resourceType/);
  const badSince = await cli(['records', 'list', '--patient', 'cd'.repeat(16), '--since', 'yesterday', '--api', dead]);
  assertFailure(badSince, 'INVALID_ARGUMENT');
  const noScope = await cli([
    'consent',
    'grant',
    '--patient',
    'cd'.repeat(16),
    '--grantee',
    'st-mary',
    '--purpose',
    'treatment',
    '--key',
    missingKey,
    '--api',
    dead,
  ]);
  assertFailure(noScope, 'INVALID_SHAPE');
  assert.match(noScope.stderr, /payload\.scope/);
});
