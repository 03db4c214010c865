import { addressOf } from '@medledger/crypto';
import { metaKey, MetaKey, type Database, type WriteBatch } from '@medledger/db';
import {
  bytesEqual,
  toHex,
  isMedLedgerError,
  validatePayload,
  ZERO_HASH,
  type Genesis,
  type Header,
  type Tx,
  type TxType,
} from '@medledger/types';
import {
  TxCode,
  type BlockExecution,
  type DecodedTx,
  type StateMachine,
  type StateQueries,
  type TxResult,
  type Validator,
} from './interface.js';
import { fail, ok, type ExecContext, type StateReader, type TxHandler } from './context.js';
import { nextAppHash, resultsHash, writeSetHash } from './commitment.js';
import {
  decodeStateMeta,
  decodeValidatorSets,
  encodeEntry,
  type StateMeta,
  type ValidatorSetEntry,
} from './entities.js';
import { StateErrorCode, stateError } from './errors.js';
import { validatorSetsKey } from './keys.js';
import { DEFAULT_QUERY_LIMITS, type StateMachineOptions } from './options.js';
import { StateOverlay, type KeyedWrite, type StateWrite } from './overlay.js';
import { CommittedReadCache } from './read-cache.js';
import { StateQueryService } from './queries.js';
import { logAccess } from './modules/access.js';
import { nonceAcceptable, readNonce, writeNonce } from './modules/accounts.js';
import { grantConsent, revokeConsent } from './modules/consent.js';
import { submitEvidence } from './modules/evidence.js';
import { claimPatient, registerPatient } from './modules/patients.js';
import { anchorRecord } from './modules/records.js';
import { eraseRecord } from './modules/erasure.js';
import { serveAccess } from './modules/serve.js';
import { genesisWrites, readKeyOwner, setAt, toValidator } from './modules/registry.js';
import { rotateOrgKey, submitProposal, voteOnProposal } from './modules/governance.js';

const HANDLERS: { [T in TxType]: TxHandler<T> } = {
  'patient.register': registerPatient,
  'patient.claim': claimPatient,
  'record.anchor': anchorRecord,
  'consent.grant': grantConsent,
  'consent.revoke': revokeConsent,
  'access.log': logAccess,
  'evidence.submit': submitEvidence,
  'access.serve': serveAccess,
  'record.erase': eraseRecord,
  'gov.propose': submitProposal,
  'gov.vote': voteOnProposal,
  'org.rotateKey': rotateOrgKey,
};

interface BlockEnv {
  height: number;
  time: number;
}

/**
 * The deterministic state machine. Its only inputs are genesis, the committed state in the
 * database and the blocks it is given; block time is `header.time`. Execution never changes
 * the database or memory: it fills the caller's batch, and `commit` moves memory forward once
 * that batch is on disk, so a block may be executed more than once before one is committed.
 */
export class MedLedgerStateMachine implements StateMachine {
  readonly query: StateQueries;
  readonly #db: Database;
  readonly #genesis: Genesis;
  readonly #genesisWrites: StateWrite[];
  readonly #genesisMeta: StateMeta;
  /** Committed meta, cached once read from disk. */
  #meta: StateMeta | undefined;
  /** Validator sets with addresses computed, read once after each commit. */
  #validatorSets: { from: number; validators: Validator[] }[] | undefined;
  readonly #reads: CommittedReadCache;
  /** Committed state for a read-only check: no overlay to allocate for every relayed tx. */
  readonly #committedReader: StateReader = { get: (key) => this.#reads.getSync(key) };
  /** Writes of executed, not yet committed blocks, by app hash (a height may run several). */
  readonly #executed = new Map<string, KeyedWrite[]>();

  constructor(opts: StateMachineOptions, modules: { db: Database }) {
    this.#db = modules.db;
    this.#reads = new CommittedReadCache(modules.db);
    this.#genesis = opts.genesis;
    // Built eagerly: a genesis that cannot form a state fails at construction, not mid-start.
    this.#genesisWrites = genesisWrites(opts.genesis);
    const genesisHash = writeSetHash(this.#genesisWrites);
    this.#genesisMeta = { height: 0, appHash: genesisHash, time: opts.genesis.genesisTime, genesisHash };
    this.query = new StateQueryService(
      { ...DEFAULT_QUERY_LIMITS, ...opts.queryLimits },
      { db: modules.db, committedTime: () => this.#committed().time },
    );
  }

  get height(): number {
    return this.#committed().height;
  }

  get appHash(): Uint8Array {
    return this.#committed().appHash.slice();
  }

  /** App hash of the genesis state (the appHash of block 1's header). */
  get genesisAppHash(): Uint8Array {
    return this.#genesisMeta.genesisHash.slice();
  }

  initGenesis(batch: WriteBatch): void {
    if (this.#readMeta() !== undefined) return;
    for (const w of this.#genesisWrites) batch.put(w.key, w.value!);
    batch.put(metaKey(MetaKey.State), encodeEntry(this.#genesisMeta));
  }

  checkTx(tx: Tx, pendingNonce?: number): TxResult {
    const meta = this.#committed();
    // Judged as if in the next block at the last block's time; the overlay is dropped after.
    const overlay = new StateOverlay(this.#reads);
    return this.#executeTx(overlay, tx, ZERO_HASH, 0, { height: meta.height + 1, time: meta.time }, pendingNonce);
  }

  checkNonce(tx: Tx): TxResult {
    return this.#checkChainAndNonce(this.#committedReader, tx, addressOf(tx.from), undefined) ?? ok();
  }

  /** The first checks of every tx; neither consumes the nonce. A failure, or undefined. */
  #checkChainAndNonce(
    store: StateReader,
    tx: Tx,
    address: Uint8Array,
    pendingNonce: number | undefined,
  ): TxResult | undefined {
    if (tx.chainId !== this.#genesis.chainId) return fail(TxCode.WrongChain, 'tx is for another chain');
    if (!nonceAcceptable(tx.nonce, readNonce(store, address), pendingNonce)) {
      return fail(TxCode.BadNonce, 'nonce is not above the last one used');
    }
    return undefined;
  }

  executeBlock(header: Header, txs: readonly DecodedTx[], batch: WriteBatch): BlockExecution {
    const meta = this.#committed();
    if (header.chainId !== this.#genesis.chainId) {
      throw stateError(StateErrorCode.WRONG_CHAIN, `block is for chain ${header.chainId}`);
    }
    if (header.height !== meta.height + 1) {
      throw stateError(StateErrorCode.WRONG_HEIGHT, `block ${header.height} does not follow height ${meta.height}`, {
        height: header.height,
        committed: meta.height,
      });
    }
    if (header.time < meta.time) {
      throw stateError(StateErrorCode.INVALID_BLOCK_TIME, 'block time is before the previous block time', {
        height: header.height,
      });
    }
    const env = { height: header.height, time: header.time };
    const overlay = new StateOverlay(this.#reads);
    const results = txs.map((d, i) => this.#executeTx(overlay, d.tx, d.hash, i, env, undefined));

    // The app hash commits to the State writes, and the read cache holds State entries only, so
    // `commit` keeps those; the index writes (five of a record anchor's seven) go to the batch
    // and are garbage while still young instead of living to the commit.
    const stateWrites = overlay.writes();
    const appHash = nextAppHash(
      meta.appHash,
      writeSetHash(stateWrites),
      resultsHash(
        txs.map((d) => d.hash),
        results,
      ),
    );
    for (const writes of [stateWrites, overlay.indexWrites()]) {
      for (const w of writes) {
        if (w.value === null) batch.del(w.key);
        else batch.put(w.key, w.value);
      }
    }
    this.#executed.set(toHex(appHash), stateWrites);
    const next: StateMeta = { height: header.height, appHash, time: header.time, genesisHash: meta.genesisHash };
    batch.put(metaKey(MetaKey.State), encodeEntry(next));
    return { appHash, results };
  }

  commit(height: number, appHash: Uint8Array): void {
    const onDisk = this.#readMeta();
    if (!onDisk || onDisk.height !== height || !bytesEqual(onDisk.appHash, appHash)) {
      throw stateError(StateErrorCode.COMMIT_MISMATCH, `height ${height} is not what the database holds`, {
        height,
        stored: onDisk?.height,
      });
    }
    this.#meta = onDisk;
    const writes = this.#executed.get(toHex(appHash));
    if (writes) this.#reads.apply(writes);
    else this.#reads.clear(); // not executed here: nothing tells what changed
    this.#executed.clear();
    // Governance may have changed the sets in this block: read them again when next asked.
    this.#validatorSets = undefined;
  }

  validatorsAt(height: number): Validator[] {
    return setAt(this.#loadValidatorSets(), height);
  }

  /**
   * One tx against the overlay. Order of checks: chain, nonce (neither consumes the nonce),
   * then the nonce is consumed and the payload rules run in a tx layer that is dropped unless
   * the tx succeeds.
   */
  #executeTx(
    overlay: StateOverlay,
    tx: Tx,
    txHash: Uint8Array,
    txIndex: number,
    env: BlockEnv,
    pendingNonce: number | undefined,
  ): TxResult {
    const address = addressOf(tx.from);
    const refused = this.#checkChainAndNonce(overlay, tx, address, pendingNonce);
    if (refused) return refused;
    writeNonce(overlay, address, tx.nonce);

    const handler = HANDLERS[tx.type] as TxHandler<TxType> | undefined;
    if (!handler) return fail(TxCode.Invalid, 'unknown tx type');
    try {
      validatePayload(tx.type, tx.payload);
    } catch (err) {
      if (isMedLedgerError(err)) return fail(TxCode.Invalid, 'malformed payload');
      throw err;
    }
    const ctx: ExecContext = {
      store: overlay,
      chainId: this.#genesis.chainId,
      height: env.height,
      time: env.time,
      txIndex,
      txHash,
      tx,
      signer: readKeyOwner(overlay, tx.from),
      validatorsAt: (h) => this.validatorsAt(h),
    };
    overlay.beginTx();
    let result: TxResult;
    try {
      result = handler(ctx, tx.payload);
    } catch (err) {
      // Unexpected (a damaged database, a bug): not a tx result, the block cannot be executed.
      overlay.rollbackTx();
      throw err;
    }
    if (result.code === TxCode.Ok) overlay.commitTx();
    else overlay.rollbackTx();
    return result;
  }

  #readMeta(): StateMeta | undefined {
    const bytes = this.#db.getSync(metaKey(MetaKey.State));
    if (bytes === undefined) return undefined;
    const meta = decodeStateMeta(bytes);
    if (!bytesEqual(meta.genesisHash, this.#genesisMeta.genesisHash)) {
      throw stateError(StateErrorCode.GENESIS_MISMATCH, 'the database holds the state of another genesis');
    }
    return meta;
  }

  /** Committed meta: from disk once written, the genesis values before that. */
  #committed(): StateMeta {
    if (this.#meta) return this.#meta;
    const meta = this.#readMeta();
    if (meta) this.#meta = meta;
    return meta ?? this.#genesisMeta;
  }

  #loadValidatorSets(): { from: number; validators: Validator[] }[] {
    if (!this.#validatorSets) {
      // Before the genesis batch is written, the sets are those genesis will write.
      const bytes = this.#db.getSync(validatorSetsKey());
      const fromGenesis = this.#genesisWrites.find((w) => bytesEqual(w.key, validatorSetsKey()))!.value!;
      this.#validatorSets = decodeValidatorSets(bytes ?? fromGenesis).map((set: ValidatorSetEntry) => ({
        from: set.from,
        validators: set.validators.map(toValidator),
      }));
    }
    return this.#validatorSets;
  }
}

export function createStateMachine(opts: StateMachineOptions, modules: { db: Database }): MedLedgerStateMachine {
  return new MedLedgerStateMachine(opts, modules);
}
