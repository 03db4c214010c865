import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { documentAad, EncKey, readEncKeyFile, readKeyFile, Signer } from '@medledger/crypto';
import { createDocumentRequest, MedLedgerClient } from '@medledger/client';
import { fromHex, toHex, type AccessEventView } from '@medledger/types';
import {
  cliJson,
  filesWithBytes,
  getJson,
  removeTestDir,
  runCli,
  startTestnet,
  tempDir,
  waitFor,
  type Testnet,
} from './helpers/harness.js';
import { randomId } from './helpers/txs.js';

/**
 * The whole story of a patient-controlled record across hospitals, over a 3-process testnet
 * and through the CLI a user runs: hospital-0 (A) writes an encrypted record for patient P;
 * hospital-1 (B) is refused; P grants; B reads the byte-identical document; P revokes; B is
 * refused; B breaks the glass and reads, flagged; P's audit trail shows every read; P erases;
 * nobody can read it any more. Then no node's files or logs hold the plaintext or the data key.
 */
const require = createRequire(import.meta.url);
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator') as new () => {
  validate(resource: unknown, verbose?: boolean): unknown[];
};

type AccessEvent = AccessEventView;

/** The value at a dotted path (`entry.0.resource.status`), for assertions on FHIR JSON. */
const at = (value: unknown, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);

/** Runs a CLI command that must be refused, and returns the error code of its one stderr line. */
function refusal(args: string[]): string {
  const r = runCli([...args, '--json']);
  assert.equal(r.status, 1, `expected a refusal (exit status 1): ${args.join(' ')}\n${r.stdout}${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout when refused');
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  const m = /^error: ([A-Z_]+): /.exec(lines[0]!);
  assert.ok(m, r.stderr);
  return m[1]!;
}

describe('patient-controlled encrypted records shared across hospitals', () => {
  let net: Testnet;
  const work = tempDir('docs-e2e');
  const patientAccount = join(work, 'patient', 'account.key');
  const patientEnc = join(work, 'patient', 'enc.key');
  const marker = `MRN-${randomId()}`;
  const document = JSON.stringify({
    resourceType: 'Observation',
    id: 'glucose',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2339-0', display: 'Glucose [Mass/volume] in Blood' }] },
    subject: { display: `Jane Roe ${marker}` },
    valueQuantity: { value: 6.3, unit: 'mmol/L' },
  });
  const docFile = join(work, 'observation.json');
  const started = Date.now();
  let A: { home: string; api: string; orgId: string };
  let B: { home: string; api: string; orgId: string };
  let C: { home: string; api: string; orgId: string };
  let patient = '';
  let record = '';
  let consent = '';
  let dataKey: Uint8Array | undefined;
  let ciphertext: Uint8Array | undefined;

  before(async () => {
    net = await startTestnet(3);
    [A, B, C] = net.info as unknown as [typeof A, typeof A, typeof A];
    writeFileSync(docFile, document);
  });

  after(async () => {
    try {
      await net?.stopAll();
    } finally {
      removeTestDir(work);
    }
  });

  test(
    'the story: write, refuse, grant, read, revoke, break the glass, audit, erase',
    { timeout: 240_000 },
    async () => {
      // P holds an account key and an encryption key; hospital A registers P with both.
      const account = cliJson<{ publicKey: string }>(['keys', 'generate', '--out', patientAccount]);
      const enc = cliJson<{ publicKey: string; type: string }>([
        'keys',
        'generate',
        '--type',
        'x25519',
        '--out',
        patientEnc,
      ]);
      assert.equal(enc.type, 'x25519');
      patient = cliJson<{ patient: string }>([
        'patient',
        'register',
        '--home',
        A.home,
        '--account',
        account.publicKey,
        '--enc-key',
        enc.publicKey,
      ]).patient;
      const asPatient = ['--key', patientAccount, '--api', A.api];

      // A writes: encrypted on the client, anchored, uploaded to A's node.
      const added = cliJson<{ record: string; contentHash: string; size: number }>([
        'record',
        'add',
        '--home',
        A.home,
        '--patient',
        patient,
        '--type',
        'Observation',
        '--file',
        docFile,
      ]);
      record = added.record;
      assert.equal(added.size, Buffer.byteLength(document) + 29, 'the ciphertext: nonce, tag and version added');
      // A answered the anchor's commit; B may commit that block a moment later.
      const onChain = await waitFor(
        'the record on B',
        () => getJson<{ record: { contentHash: string; author: string } }>(`${B.api}/records/${record}`),
        10_000,
      );
      assert.equal(onChain.record.contentHash, added.contentHash);
      assert.equal(onChain.record.author, A.orgId);
      const held = await getJson<{ held: boolean }>(`${A.api}/records/${record}/document`);
      assert.equal(held.held, true, "the ciphertext is in A's document store");

      const get = (who: typeof A, out: string, purpose = 'treatment', extra: string[] = []) => [
        'record',
        'get',
        '--home',
        who.home,
        '--id',
        record,
        '--purpose',
        purpose,
        '--out',
        join(work, out),
        ...extra,
      ];

      // B has no consent: refused, and no access event.
      assert.equal(refusal(get(B, 'b0.json')), 'NO_CONSENT');

      // P grants B access to Observations for treatment.
      consent = cliJson<{ consent: string }>([
        'consent',
        'grant',
        ...asPatient,
        '--patient',
        patient,
        '--grantee',
        B.orgId,
        '--types',
        'Observation,DiagnosticReport',
        '--purpose',
        'treatment',
        '--expires',
        new Date(Date.now() + 86_400_000).toISOString(),
      ]).consent;

      // B reads through its own node: byte-identical.
      const read = cliJson<{ size: number; consent: string; breakGlass: null; accessTx: string }>(get(B, 'b1.json'));
      assert.equal(read.consent, consent);
      assert.equal(read.breakGlass, null);
      assert.equal(readFileSync(join(work, 'b1.json'), 'utf8'), document);
      assert.equal(statSync(join(work, 'b1.json')).mode & 0o777, 0o600);
      // Another purpose than the consent's, or another organisation: refused.
      assert.equal(refusal(get(B, 'b2.json', 'research')), 'PURPOSE_MISMATCH');
      assert.equal(refusal(get(C, 'c1.json')), 'NO_CONSENT');

      // The same read through the client library, keeping what the scan below looks for: the
      // data key (unwrapped with B's enc key) and the ciphertext.
      const client = new MedLedgerClient({ api: B.api });
      const bOrg = new Signer(readKeyFile(join(B.home, 'keys', 'org.key')).secretKey);
      const request = createDocumentRequest(bOrg, { chainId: net.chainId, record, purpose: 'treatment' });
      const fetched = await client.fetchDocument(record, request);
      const bEnc = new EncKey(readEncKeyFile(join(B.home, 'keys', 'enc.key')).secretKey);
      dataKey = bEnc.unwrap(fromHex(fetched.wrappedKey), documentAad(record));
      ciphertext = fromHex(fetched.ciphertext);
      assert.equal(dataKey.length, 32);

      // P revokes: the next read is refused at once.
      cliJson(['consent', 'revoke', ...asPatient, '--consent', consent]);
      assert.equal(refusal(get(B, 'b3.json')), 'CONSENT_REVOKED');

      // B breaks the glass with a free-text reason: refused before anything is signed or sent.
      assert.equal(refusal(get(B, 'b4.json', 'emergency', ['--break-glass', 'unconscious in ER'])), 'USAGE');
      // With a reason code: served, and flagged.
      const reason = 'unconscious';
      const bg = cliJson<{ breakGlass: string; consent: null }>(
        get(B, 'b4.json', 'emergency', ['--break-glass', reason]),
      );
      assert.equal(bg.breakGlass, reason);
      assert.equal(bg.consent, null);
      assert.equal(readFileSync(join(work, 'b4.json'), 'utf8'), document);

      // P's audit trail: every read, with organisation, purpose and time; the break-glass flagged.
      // A (the holder) committed each access event before serving; C may commit the last a moment later.
      const audit = await waitFor(
        'the third access event on C',
        () => {
          const a = cliJson<{ events: AccessEvent[] }>(['audit', '--api', C.api, '--patient', patient]);
          return a.events.length >= 3 ? a : undefined;
        },
        10_000,
      );
      assert.equal(audit.events.length, 3, JSON.stringify(audit.events));
      for (const e of audit.events) {
        assert.equal(e.record, record);
        assert.equal(e.accessor, B.orgId);
        assert.ok(e.time >= started - 60_000 && e.time <= Date.now() + 60_000, `time ${e.time}`);
        assert.match(e.tx, /^[0-9a-f]{64}$/);
      }
      assert.deepEqual(
        audit.events.map((e) => [e.purpose, e.consent, e.breakGlass]),
        [
          ['treatment', consent, null],
          ['treatment', consent, null],
          ['emergency', null, reason],
        ],
      );
      assert.equal(audit.events[0]!.tx, read.accessTx);
      const text = runCli(['audit', '--api', C.api, '--patient', patient]);
      assert.match(text.stdout, new RegExp(`BREAK-GLASS: ${reason}`));

      // The same trail and the consents as FHIR R4, valid against the official schema.
      const validator = new JSONSchemaValidator();
      const auditFhir = await getJson<{ entry: { resource: Record<string, unknown> }[] }>(
        `${A.api}/patients/${patient}/audit?format=fhir`,
      );
      assert.deepEqual(validator.validate(auditFhir, true), []);
      assert.equal(auditFhir.entry.length, 3);
      for (const { resource } of auditFhir.entry) assert.deepEqual(validator.validate(resource, true), []);
      const flagged = auditFhir.entry.map((e) => e.resource).filter((r) => at(r, 'type.code') === '110113');
      assert.equal(flagged.length, 1, 'one Security Alert');
      assert.equal(at(flagged[0], 'purposeOfEvent.0.coding.0.code'), 'ETREAT');
      assert.equal(at(flagged[0], 'meta.security.0.code'), 'ETREAT');
      assert.equal(
        at(flagged[0], 'purposeOfEvent.0.text'),
        'break-glass: Patient unconscious or otherwise unable to consent',
      );
      const consentsFhir = cliJson<{ entry: { resource: Record<string, unknown> }[] }>([
        'consents',
        'list',
        '--api',
        B.api,
        '--patient',
        patient,
        '--fhir',
      ]);
      assert.deepEqual(validator.validate(consentsFhir, true), []);
      assert.equal(at(consentsFhir, 'entry.0.resource.status'), 'inactive', 'revoked');
      assert.equal(at(consentsFhir, 'entry.0.resource.provision.actor.0.reference.identifier.value'), B.orgId);

      // P erases: every node drops the document; the chain keeps the hash and the fact.
      const erased = cliJson<{ erased: boolean }>(['erase', ...asPatient, '--record', record]);
      assert.equal(erased.erased, true);
      for (const n of [A, B, C]) {
        await waitFor(
          `${n.orgId} to see the erasure`,
          async () => {
            const s = await getJson<{ held: boolean; erasure: { record: string } | null }>(
              `${n.api}/records/${record}/document`,
            );
            return s.erasure?.record === record && !s.held;
          },
          15_000,
        );
      }
      assert.equal(
        (await getJson<{ record: { contentHash: string } }>(`${C.api}/records/${record}`)).record.contentHash,
        added.contentHash,
      );
      // Nobody reads it any more: not B under break-glass, not C, not even the author.
      assert.equal(refusal(get(B, 'b5.json', 'emergency', ['--break-glass', reason])), 'ERASED');
      assert.equal(refusal(get(C, 'c2.json', 'emergency', ['--break-glass', reason])), 'ERASED');
      assert.equal(refusal(get(A, 'a1.json', 'emergency', ['--break-glass', reason])), 'ERASED');
      assert.equal(refusal(['erase', ...asPatient, '--record', record]), 'ALREADY_EXISTS', 'erased once');
    },
  );

  test('no node holds the plaintext or the data key in its files or logs', { timeout: 60_000 }, async () => {
    assert.ok(dataKey && ciphertext, 'the story ran');
    const hex = toHex(dataKey);
    const needles: [string, Buffer][] = [
      ['plaintext', Buffer.from(document)],
      ['marker', Buffer.from(marker)],
      ['data key (raw)', Buffer.from(dataKey)],
      ['data key (hex)', Buffer.from(hex)],
      ['data key (HEX)', Buffer.from(hex.toUpperCase())],
      ['data key (base64)', Buffer.from(Buffer.from(dataKey).toString('base64'))],
    ];
    let scanned = 0;
    for (const info of net.info) {
      const files = filesWithBytes(info.home);
      assert.ok(files.some((f) => f.path.endsWith('node.log')));
      for (const { path, bytes } of files) {
        scanned += bytes.length;
        for (const [what, needle] of needles) assert.equal(bytes.indexOf(needle), -1, `${path} holds the ${what}`);
      }
    }
    for (const n of net.nodes) {
      for (const [what, needle] of needles)
        assert.ok(!n.output.includes(needle.toString('latin1')), `${n.name} printed the ${what}`);
    }
    assert.ok(scanned > 0);
    // Crypto-shredding: after the erasure even the ciphertext is gone from the holder's files.
    const holder = net.info.find((i) => i.orgId === A.orgId)!;
    const probe = Buffer.from(ciphertext.subarray(0, 64));
    const holding = () =>
      filesWithBytes(join(holder.home, 'data'))
        .filter((f) => f.bytes.indexOf(probe) !== -1)
        .map((f) => f.path);
    // The deletion is compacted out of LevelDB's files right after the commit; allow it a moment.
    await waitFor('the erased ciphertext to leave the holder files', () => holding().length === 0, 10_000).catch(() => {
      assert.deepEqual(holding(), [], 'files still holding the erased ciphertext');
    });
  });
});
