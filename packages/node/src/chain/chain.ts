import {
  MedLedgerError,
  VoteType,
  ZERO_HASH,
  bytesEqual,
  decodeTx,
  encodeBlock,
  encodeCanonical,
  encodeCommit,
  encodeHeader,
  toHex,
  encodedTxSignBytes,
  voteSignBytes,
  type Block,
  type Commit,
  type Genesis,
  type Header,
  type Tx,
} from '@medledger/types';
import { merkleRoot, sha256, verifySignature } from '@medledger/crypto';
import type { BlockStore, Database, StoredBlock, WriteBatch } from '@medledger/db';
import { TxCode, type BlockExecution, type DecodedTx, type StateMachine, type Validator } from '@medledger/state';
import { proposerFor, quorum } from '@medledger/consensus';
import { NodeErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { MempoolTx } from '../mempool/interface.js';
import type { VerifiedTxCache } from './verified-txs.js';

export function blockHash(header: Header): Uint8Array {
  return sha256(encodeHeader(header));
}

export function validatorsHash(validators: readonly Validator[]): Uint8Array {
  return sha256(encodeCanonical(validators.map((v) => [v.address, v.pubKey])));
}

export interface CommittedBlock {
  height: number;
  hash: Uint8Array;
  block: Block;
  /** The block's txs, decoded. */
  txs: readonly Tx[];
  txHashes: string[];
  results: BlockExecution['results'];
}

interface Execution {
  batch: WriteBatch;
  execution: BlockExecution;
  txs: DecodedTx[];
}

/**
 * Share of the propose timeout a proposal's execution may take. Validators execute it again
 * after it arrives, and all of that must fit in the timeout or they prevote nil (ADR 0008).
 */
const PROPOSAL_EXEC_BUDGET = 0.2;
const MIN_PROPOSAL_TXS = 100;
/** Until an execution was measured. */
const INITIAL_PROPOSAL_TXS = 1000;

const invalid = (message: string, meta: Record<string, unknown> = {}) =>
  new MedLedgerError(NodeErrorCode.InvalidBlock, message, meta);

/**
 * The ledger as this node holds it: builds proposals, validates and executes proposed blocks,
 * verifies commit certificates and commits a block with all its effects in one atomic batch.
 * A block is executed once per node: the execution done while validating a proposal is kept
 * (by block hash) and written when that block is decided.
 */
export class Chain {
  readonly #executions = new Map<string, Execution>();
  /**
   * Blocks whose body was checked against their header, with their tx hashes: a block is
   * validated when proposed and again when committed, and block sync checks it ahead. Blocks are
   * never changed once decoded or built, so the check holds for the object.
   */
  readonly #checkedBodies = new WeakMap<Block, Uint8Array[]>();
  #latest: StoredBlock | undefined;
  /** Recent execution time per tx in ms (moving average over blocks of some size). */
  #msPerTx = 0;
  readonly chainId: string;

  constructor(
    private readonly opts: { genesis: Genesis },
    private readonly modules: {
      db: Database;
      blocks: BlockStore;
      state: StateMachine;
      verified: VerifiedTxCache;
      logger: Logger;
      metrics: Metrics;
      /** Txs left out of a proposal because they fail against the current state, with the rule each broke. */
      onInvalidTxs?: (failed: { hashHex: string; code: number; log: string }[]) => void;
      /** A tx already decoded and verified in the mempool, by hex hash: spares decoding it again. */
      pendingTx?: (hash: string) => Tx | undefined;
    },
  ) {
    this.chainId = opts.genesis.chainId;
  }

  /** Writes the genesis state on first start and loads the latest block. */
  async init(): Promise<void> {
    const { db, blocks, state } = this.modules;
    if (blocks.latestHeight() === 0 && state.height === 0) {
      const batch = db.createBatch();
      state.initGenesis(batch);
      if (batch.length > 0) await db.write(batch, { sync: true });
    }
    const h = blocks.latestHeight();
    this.#latest = h > 0 ? blocks.getBlock(h) : undefined;
    if (state.height !== h) {
      throw new MedLedgerError(
        NodeErrorCode.ConfigInvalid,
        `state height ${state.height} differs from block height ${h}`,
      );
    }
  }

  get height(): number {
    return this.#latest?.block.header.height ?? 0;
  }

  get latest(): StoredBlock | undefined {
    return this.#latest;
  }

  get latestTime(): number {
    return this.#latest?.block.header.time ?? this.opts.genesis.genesisTime;
  }

  get params() {
    return this.opts.genesis.params;
  }

  validatorsAt(height: number): Validator[] {
    return this.modules.state.validatorsAt(height);
  }

  /**
   * How many txs this node puts in a proposal: as many as it can execute in its share of the
   * propose timeout at the execution speed of recent blocks, within `maxBlockTxs`. A block that
   * takes longer to build and validate than the timeout is prevoted nil and the round is lost,
   * on a slow or loaded machine for every height. A local policy: validators accept any size up
   * to `maxBlockTxs`.
   */
  proposalTxLimit(): number {
    const p = this.opts.genesis.params;
    if (this.#msPerTx === 0) return Math.min(p.maxBlockTxs, INITIAL_PROPOSAL_TXS);
    const fit = Math.floor((p.timeoutProposeMs * PROPOSAL_EXEC_BUDGET) / this.#msPerTx);
    return Math.max(Math.min(MIN_PROPOSAL_TXS, p.maxBlockTxs), Math.min(p.maxBlockTxs, fit));
  }

  #noteExecution(ms: number, txs: number): void {
    if (txs < 50) return;
    this.#msPerTx = this.#msPerTx === 0 ? ms / txs : 0.7 * this.#msPerTx + (0.3 * ms) / txs;
  }

  /** Builds the block for (height, round): executes the candidates and leaves out any that fail. */
  buildProposal(round: number, time: number, proposer: Uint8Array, candidates: MempoolTx[]): StoredBlock {
    const height = this.height + 1;
    const lastCommit = height > 1 ? this.modules.blocks.getCommit(height - 1) : undefined;
    if (height > 1 && !lastCommit) throw invalid(`no commit stored for height ${height - 1}`);
    let txs = candidates;
    for (;;) {
      const header: Header = {
        chainId: this.chainId,
        height,
        round,
        time: Math.max(time, this.latestTime + 1),
        prevHash: this.#latest?.hash ?? ZERO_HASH,
        txRoot: merkleRoot(txs.map((t) => t.hash)),
        appHash: this.modules.state.appHash,
        validatorsHash: validatorsHash(this.validatorsAt(height)),
        proposer,
        lastCommitHash: lastCommit ? sha256(encodeCommit(lastCommit)) : ZERO_HASH,
      };
      const decoded: DecodedTx[] = txs.map((t) => ({ tx: t.tx, hash: t.hash }));
      const started = performance.now();
      const { batch, execution } = this.#execute(header, decoded);
      this.#noteExecution(performance.now() - started, decoded.length);
      const failed = new Set(execution.results.flatMap((r, i) => (r.code === TxCode.Ok ? [] : [i])));
      if (failed.size > 0) {
        // Rare: the state moved since these txs were checked. Build again without them.
        batch.discard();
        this.modules.onInvalidTxs?.(
          [...failed].map((i) => ({
            hashHex: txs[i]!.hashHex,
            code: execution.results[i]!.code,
            log: execution.results[i]!.log,
          })),
        );
        txs = txs.filter((_, i) => !failed.has(i));
        continue;
      }
      const block: Block = { header, txs: txs.map((t) => t.bytes), lastCommit: lastCommit ?? null };
      this.#checkedBodies.set(
        block,
        txs.map((t) => t.hash),
      );
      const hash = blockHash(header);
      this.#executions.set(toHex(hash), { batch, execution, txs: decoded });
      return { block, hash, bytes: encodeBlock(block) };
    }
  }

  /**
   * Full validation of a proposed block at local time `now`: header links, proposer, time,
   * the parent's commit certificate, every tx (shape, signature once per node) and execution
   * with every tx succeeding. Throws INVALID_BLOCK with the reason. `known` may supply txs
   * already decoded and signature-checked, by hex hash (block sync checks them ahead).
   */
  validateBlock(block: Block, now: number | null, known?: (hash: string) => Tx | undefined): Uint8Array {
    const started = performance.now();
    const { header } = block;
    const hash = blockHash(header);
    // The execution cache is keyed by header hash: first make sure this body is the one the
    // header commits to, or a block with the same header and other txs would pass as validated.
    const txHashes = this.checkBody(block);
    if (this.#executions.has(toHex(hash))) return hash;
    const height = this.height + 1;
    const params = this.opts.genesis.params;
    if (header.chainId !== this.chainId) throw invalid('wrong chain id');
    if (header.height !== height) throw invalid(`height ${header.height}, expected ${height}`);
    if (!bytesEqual(header.prevHash, this.#latest?.hash ?? ZERO_HASH))
      throw invalid('prevHash does not link to our latest block');
    if (!bytesEqual(header.appHash, this.modules.state.appHash)) throw invalid('appHash differs from our state');
    const validators = this.validatorsAt(height);
    if (!bytesEqual(header.validatorsHash, validatorsHash(validators))) throw invalid('validatorsHash differs');
    const expected = proposerFor(
      validators.map((v) => v.address),
      height,
      header.round,
    );
    if (!bytesEqual(header.proposer, expected)) throw invalid('proposer is not the one scheduled for its round');
    if (header.time <= this.latestTime) throw invalid('time does not advance');
    if (now !== null && header.time > now + params.maxClockDriftMs) throw invalid('time is too far ahead of our clock');
    if (block.txs.length > params.maxBlockTxs) throw invalid('too many txs');
    if (height === 1) {
      if (block.lastCommit !== null) throw invalid('height 1 has no last commit');
    } else {
      if (!block.lastCommit) throw invalid('missing last commit');
      if (!bytesEqual(block.lastCommit.blockHash, header.prevHash)) throw invalid('last commit is not for the parent');
      this.verifyCommit(block.lastCommit, height - 1);
    }
    let bytes = 0;
    const seen = new Set<string>();
    const decoded: DecodedTx[] = block.txs.map((raw, i) => {
      bytes += raw.length;
      const txHash = txHashes[i]!;
      const id = toHex(txHash);
      if (seen.has(id)) throw invalid(`tx ${i} appears twice`);
      seen.add(id);
      // Same hash, same bytes: a mempool tx was decoded and its signature verified on entry.
      const pending = known?.(id) ?? this.modules.pendingTx?.(id);
      if (pending) return { tx: pending, hash: txHash };
      let tx;
      try {
        tx = decodeTx(raw);
      } catch (err) {
        throw invalid(`tx ${i}: ${(err as Error).message}`);
      }
      if (!this.modules.verified.has(id)) {
        if (!verifySignature(tx.from, encodedTxSignBytes(raw), tx.signature)) throw invalid(`tx ${i}: bad signature`);
        this.modules.verified.add(id);
      }
      return { tx, hash: txHash };
    });
    if (bytes > params.maxBlockBytes) throw invalid('block too large');
    const { batch, execution } = this.#execute(header, decoded);
    const failed = execution.results.findIndex((r) => r.code !== TxCode.Ok);
    if (failed >= 0) {
      batch.discard();
      throw invalid(`tx ${failed} fails: ${execution.results[failed]!.log}`);
    }
    this.#executions.set(toHex(hash), { batch, execution, txs: decoded });
    this.modules.metrics.blockExecSeconds.observe((performance.now() - started) / 1000);
    this.#noteExecution(performance.now() - started, decoded.length);
    return hash;
  }

  /** Executes a block into a new batch; the batch is released if execution throws. */
  #execute(header: Header, txs: DecodedTx[]): { batch: WriteBatch; execution: BlockExecution } {
    const batch = this.modules.db.createBatch();
    try {
      return { batch, execution: this.modules.state.executeBlock(header, txs, batch) };
    } catch (err) {
      batch.discard();
      throw err;
    }
  }

  /**
   * Checks that the txs and parent commit are the ones the header commits to (INVALID_BLOCK if
   * not); returns the tx hashes. Once per block object.
   */
  checkBody(block: Block): Uint8Array[] {
    const checked = this.#checkedBodies.get(block);
    if (checked) return checked;
    const txHashes = block.txs.map((raw) => sha256(raw));
    if (!bytesEqual(block.header.txRoot, merkleRoot(txHashes))) throw invalid('txRoot differs');
    const lastCommitHash = block.lastCommit ? sha256(encodeCommit(block.lastCommit)) : ZERO_HASH;
    if (!bytesEqual(block.header.lastCommitHash, lastCommitHash)) throw invalid('lastCommitHash differs');
    this.#checkedBodies.set(block, txHashes);
    return txHashes;
  }

  /** Checks a commit certificate: 2f+1 distinct validators of `height` precommitted its block hash. */
  verifyCommit(commit: Commit, height: number): void {
    if (commit.height !== height)
      throw new MedLedgerError(NodeErrorCode.InvalidCommit, `commit is for height ${commit.height}`);
    const validators = this.validatorsAt(height);
    const byAddress = new Map(validators.map((v) => [toHex(v.address), v]));
    const signBytes = voteSignBytes(this.chainId, {
      type: VoteType.Precommit,
      height,
      round: commit.round,
      blockHash: commit.blockHash,
    });
    const signers = new Set<string>();
    for (const sig of commit.signatures) {
      const id = toHex(sig.validator);
      const v = byAddress.get(id);
      if (!v || signers.has(id))
        throw new MedLedgerError(NodeErrorCode.InvalidCommit, 'commit has an unknown or repeated signer');
      if (!verifySignature(v.pubKey, signBytes, sig.signature)) {
        throw new MedLedgerError(NodeErrorCode.InvalidCommit, 'commit has a bad signature');
      }
      signers.add(id);
    }
    if (signers.size < quorum(validators.length)) {
      throw new MedLedgerError(
        NodeErrorCode.InvalidCommit,
        `commit has ${signers.size} signatures, needs ${quorum(validators.length)}`,
      );
    }
  }

  /**
   * Writes the decided block, its commit and all its effects in one atomic, synced batch.
   * `known` may supply decoded txs by hex hash; `bytes` the block's canonical encoding.
   */
  async commit(
    block: Block,
    commit: Commit,
    opts: { known?: (hash: string) => Tx | undefined; bytes?: Uint8Array } = {},
  ): Promise<CommittedBlock> {
    const hash = blockHash(block.header);
    if (!bytesEqual(commit.blockHash, hash))
      throw new MedLedgerError(NodeErrorCode.InvalidCommit, 'commit is for another block');
    // Checks the body against the header even when the execution is cached.
    this.validateBlock(block, null, opts.known);
    const { batch, execution, txs } = this.#executions.get(toHex(hash))!;
    const txHashes = txs.map((t) => t.hash);
    const stored: StoredBlock = { block, hash, bytes: opts.bytes ?? encodeBlock(block) };
    this.modules.blocks.putBlock(batch, stored, commit, txHashes, execution.results);
    await this.modules.db.write(batch, { sync: true });
    this.modules.state.commit(block.header.height, execution.appHash);
    const previousTime = this.latestTime;
    this.#latest = stored;
    // Executions of blocks not decided (other rounds) are dropped with their batches.
    for (const e of this.#executions.values()) if (e.batch !== batch) e.batch.discard();
    this.#executions.clear();
    const m = this.modules.metrics;
    m.height.set(block.header.height);
    m.txsCommitted.inc(block.txs.length);
    m.blockTxs.observe(block.txs.length);
    m.blockIntervalSeconds.observe((block.header.time - previousTime) / 1000);
    return {
      height: block.header.height,
      hash,
      block,
      txs: txs.map((t) => t.tx),
      txHashes: txHashes.map(toHex),
      results: execution.results,
    };
  }
}
