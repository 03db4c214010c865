// Index mode: patient-history query latency over a real LevelDB holding `records` records. The
// records are written through the state machine's own path (executeBlock over big blocks, the
// block's batch written and committed as a node does); the query is the API's query code
// (`StateQueries.records({patient, limit})`).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createDatabase } from '@medledger/db';
import { createStateMachine } from '@medledger/state';
import { TxType } from '@medledger/types';
import { generateKeyPair } from '@medledger/crypto';
import { blockHeader, oneOrgGenesis } from './in-process.mjs';
import { load, log, percentile, printResult, round, scratchDir } from './lib.mjs';

const BLOCK_TXS = 10_000;
const CHAIN_ID = 'medledger-bench-index';

export async function runIndex(o) {
  const records = o.records;
  const patients = o.patients;
  const perPatient = Math.floor(records / patients);
  const limit = 100;
  // --db DIR keeps the database between runs (building 1M records takes a while).
  const dir = o.db ?? scratchDir('index', o.keep);
  const metaFile = join(dir, 'bench-meta.json');
  let meta = existsSync(metaFile) ? JSON.parse(readFileSync(metaFile, 'utf8')) : undefined;
  if (meta && (meta.records !== records || meta.patients !== patients)) {
    throw new Error(`${dir} holds ${meta.records} records over ${meta.patients} patients; use another --db`);
  }
  const genesis = meta?.genesis ?? oneOrgGenesis(CHAIN_ID, generateKeyPair(), BLOCK_TXS);
  const db = createDatabase({ path: join(dir, 'ledger') });
  await db.open();
  const state = createStateMachine({ genesis }, { db });
  let buildS = null;
  let buildRate = null;
  try {
    if (!meta) {
      ({ buildS, buildRate, meta } = await build(db, state, genesis, records, patients));
      writeFileSync(metaFile, JSON.stringify(meta));
    } else {
      log(`reusing ${dir}: ${meta.records} records over ${meta.patients} patients`);
    }

    const ids = meta.patientIds;
    const query = (patient) => state.query.records({ patient, limit });
    // Sanity: a page is full and ordered by time.
    const first = await query(ids[0]);
    if (first.items.length !== Math.min(limit, perPatient))
      throw new Error(`expected ${limit} records, got ${first.items.length}`);
    for (let i = 0; i < 300; i++) await query(ids[(i * 31) % ids.length]); // warm-up (JIT, LevelDB cache)
    const loadAtStart = load();
    log(`querying ${o.queries} patient histories (limit ${limit}) (load ${loadAtStart.join(' ')})`);
    const times = [];
    let items = 0;
    for (let i = 0; i < o.queries; i++) {
      const patient = ids[Math.floor(Math.random() * ids.length)];
      const t = performance.now();
      const page = await query(patient);
      times.push(performance.now() - t);
      items += page.items.length;
    }
    times.sort((a, b) => a - b);
    const result = {
      mode: 'index',
      records: meta.records,
      patients: meta.patients,
      limit,
      queries: o.queries,
      avgResults: round(items / o.queries, 1),
      p50Ms: round(percentile(times, 50), 2),
      p99Ms: round(percentile(times, 99), 2),
      maxMs: round(times[times.length - 1], 2),
      buildSeconds: buildS === null ? null : round(buildS, 1),
      buildRecordsPerSec: buildRate === null ? null : Math.round(buildRate),
      load: { start: loadAtStart, end: load() },
    };
    printResult(result);
  } finally {
    await db.close();
  }
}

/**
 * Registers the patients, then anchors `records` records round-robin over them, BLOCK_TXS txs per
 * block. Signatures are not checked by the state machine (the node verifies them before), so the
 * txs carry a dummy one: the cost measured here is execution, the index and LevelDB.
 */
async function build(db, state, genesis, records, patients) {
  const from = Buffer.from(genesis.orgs[0].orgKey, 'hex');
  const signature = new Uint8Array(64);
  const init = db.createBatch();
  state.initGenesis(init);
  await db.write(init, { sync: false });
  let nonce = 0;
  let height = 0;
  let time = genesis.genesisTime;
  const patientIds = Array.from({ length: patients }, () => randomBytes(16).toString('hex'));
  const run = async (txs) => {
    height++;
    time += 1000;
    const header = blockHeader(CHAIN_ID, height, time, state.appHash);
    const batch = db.createBatch();
    const decoded = txs.map((tx) => ({ tx, hash: randomBytes(32) }));
    const execution = state.executeBlock(header, decoded, batch);
    const failed = execution.results.find((r) => r.code !== 0);
    if (failed) throw new Error(`tx failed at height ${height}: ${failed.log}`);
    await db.write(batch, { sync: false });
    state.commit(height, execution.appHash);
  };
  const tx = (type, payload) => ({ chainId: CHAIN_ID, type, from, nonce: ++nonce, payload, signature });
  const started = performance.now();
  for (let i = 0; i < patients; i += BLOCK_TXS) {
    await run(
      patientIds
        .slice(i, i + BLOCK_TXS)
        .map((patient) => tx(TxType.PatientRegister, { patient, account: null, encKey: null })),
    );
  }
  const types = ['Observation', 'Condition', 'MedicationRequest', 'DiagnosticReport', 'Encounter'];
  let lastLog = performance.now();
  for (let done = 0; done < records;) {
    const n = Math.min(BLOCK_TXS, records - done);
    const txs = new Array(n);
    for (let k = 0; k < n; k++) {
      const j = done + k;
      txs[k] = tx(TxType.RecordAnchor, {
        record: randomBytes(16).toString('hex'),
        patient: patientIds[j % patients],
        resourceType: types[j % types.length],
        contentHash: randomBytes(32),
        size: 2048,
        previous: null,
      });
    }
    await run(txs);
    done += n;
    if (performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      const rate = done / ((lastLog - started) / 1000);
      log(`built ${done}/${records} records (${Math.round(rate)}/s)`);
    }
  }
  const buildS = (performance.now() - started) / 1000;
  log(`built ${records} records over ${patients} patients in ${buildS.toFixed(1)} s`);
  return { buildS, buildRate: records / buildS, meta: { records, patients, patientIds, genesis } };
}
