// Execution mode: what one node spends, per committed record anchor, in each step it runs for
// every tx, measured on one core in this process over fixed blocks (no network, no other
// process): hash, decode, signature check, the API's checkTx, block execution, and the commit
// (block store entries, the LevelDB batch written with sync, the state's commit). These are the
// per-tx costs the throughput and sync modes pay on every node; this mode shows them without
// the noise of four processes sharing the cores.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createBlockStore, createDatabase } from '@medledger/db';
import { createStateMachine } from '@medledger/state';
import { TxType, decodeTx, encodeBlock, txSignBytes } from '@medledger/types';
import { Signer, generateKeyPair, sha256, signTx, verifySignature } from '@medledger/crypto';
import { blockHeader, oneOrgGenesis } from './in-process.mjs';
import { load, log, printResult, round, scratchDir } from './lib.mjs';

const CHAIN_ID = 'medledger-bench-execution';
const WARMUP_BLOCKS = 3;

export async function runExecution(o) {
  const dir = scratchDir('execution', o.keep);
  const org = generateKeyPair();
  const genesis = oneOrgGenesis(CHAIN_ID, org, o.blockTxs);
  const db = createDatabase({ path: join(dir, 'ledger') });
  await db.open();
  const state = createStateMachine({ genesis }, { db });
  const blocks = createBlockStore({ db });
  try {
    const init = db.createBatch();
    state.initGenesis(init);
    await db.write(init, { sync: true });

    const signer = new Signer(org.secretKey);
    let nonce = 0;
    const sign = (type, payload) => signTx(signer, { chainId: CHAIN_ID, type, nonce: ++nonce, payload }).bytes;
    const patients = Array.from({ length: o.patients }, () => randomBytes(16).toString('hex'));
    const registrations = patients.map((patient) =>
      sign(TxType.PatientRegister, { patient, account: null, encKey: null }),
    );
    log(`signing ${o.blocks} blocks of ${o.blockTxs} record anchors`);
    const anchors = Array.from({ length: o.blocks }, (_, b) =>
      Array.from({ length: o.blockTxs }, (_, k) =>
        sign(TxType.RecordAnchor, {
          record: randomBytes(16).toString('hex'),
          patient: patients[(b * o.blockTxs + k) % patients.length],
          resourceType: 'Observation',
          contentHash: randomBytes(32),
          size: 4096,
          previous: null,
        }),
      ),
    );

    const spent = { hash: 0, decode: 0, verify: 0, checkTx: 0, execute: 0, commit: 0 };
    let measured = 0;
    let height = 0;
    let time = genesis.genesisTime;
    const commitBlock = async (raw, measure) => {
      const lap = stopwatch(measure ? spent : null);
      const hashes = raw.map((bytes) => sha256(bytes));
      lap('hash');
      const txs = raw.map((bytes) => decodeTx(bytes));
      lap('decode');
      for (const tx of txs)
        if (!verifySignature(tx.from, txSignBytes(tx), tx.signature)) throw new Error('bad signature');
      lap('verify');
      // The node that takes a tx through its API runs the full checks once.
      for (const tx of txs) if (state.checkTx(tx).code !== 0) throw new Error('checkTx refused a tx');
      lap('checkTx');
      height++;
      time += 1000;
      const header = blockHeader(CHAIN_ID, height, time, state.appHash);
      const batch = db.createBatch();
      const execution = state.executeBlock(
        header,
        txs.map((tx, i) => ({ tx, hash: hashes[i] })),
        batch,
      );
      lap('execute');
      const failed = execution.results.find((r) => r.code !== 0);
      if (failed) throw new Error(`a tx failed at height ${height}: ${failed.log}`);
      const block = { header, txs: raw, lastCommit: null };
      const hash = sha256(`block ${height}`);
      const commit = { height, round: 0, blockHash: hash, signatures: [] };
      blocks.putBlock(batch, { block, hash, bytes: encodeBlock(block) }, commit, hashes, execution.results);
      await db.write(batch, { sync: true });
      state.commit(height, execution.appHash);
      lap('commit');
      if (measure) measured += raw.length;
    };

    await commitBlock(registrations, false);
    const loadAtStart = load();
    log(`executing (load ${loadAtStart.join(' ')}); the first ${WARMUP_BLOCKS} blocks warm up`);
    for (const [i, raw] of anchors.entries()) await commitBlock(raw, i >= WARMUP_BLOCKS);

    const usPerTx = Object.fromEntries(Object.entries(spent).map(([k, ms]) => [k, round((ms * 1000) / measured, 1)]));
    const total = Object.values(spent).reduce((a, b) => a + b, 0);
    printResult({
      mode: 'execution',
      blockTxs: o.blockTxs,
      blocks: o.blocks - WARMUP_BLOCKS,
      txs: measured,
      usPerTx,
      totalUsPerTx: round((total * 1000) / measured, 1),
      load: { start: loadAtStart, end: load() },
    });
  } finally {
    await db.close();
  }
}

/** Adds the time since the previous lap to `into[name]` (or only restarts, when not measuring). */
function stopwatch(into) {
  let last = performance.now();
  return (name) => {
    const now = performance.now();
    if (into) into[name] += now - last;
    last = now;
  };
}
