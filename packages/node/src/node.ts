import { MedLedgerError, TxType, encodeVote, toHex, type Genesis, type StatusView, type Vote } from '@medledger/types';
import {
  EncKey,
  Signer,
  VerifierPool,
  addressHex,
  readEncKeyFile,
  readKeyFile,
  type LoadedKey,
} from '@medledger/crypto';
import { existsSync } from 'node:fs';
import {
  createBlockStore,
  createConsensusWal,
  type FileConsensusWal,
  createDatabase,
  type BlockStore,
  type Database,
  type TxLocation,
} from '@medledger/db';
import { createStateMachine, type StateMachine } from '@medledger/state';
import { createConsensusEngine } from '@medledger/consensus';
import { NetworkErrorCode, createNetwork, protocols, topics, type NetworkService } from '@medledger/network';
import type { FastifyInstance } from 'fastify';
import { Chain, type CommittedBlock } from './chain/chain.js';
import { VerifiedTxCache } from './chain/verified-txs.js';
import {
  homeKeyPassphrase,
  homeLayout,
  loadGenesis,
  loadNodeConfig,
  type HomeLayout,
  type NodeConfig,
  type NodeConfigOverrides,
} from './config/index.js';
import { ConsensusDriver, GuardedSigner } from './consensus/index.js';
import { Equivocator, byzantineModeFrom } from './consensus/byzantine.js';
import { Mempool } from './mempool/mempool.js';
import { DEFAULT_TX_RELAY_OPTIONS } from './mempool/options.js';
import { TxRelay } from './mempool/relay.js';
import { BlockSync, DEFAULT_SYNC_OPTIONS } from './sync/index.js';
import { createApiServer } from './api/server.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { NodeErrorCode } from './errors.js';
import { HeapGrowthPolicy } from './heap-growth.js';
import { apiUrl } from './consortium.js';
import { DocumentService, NodeTxSender, registerDocumentRoutes } from './docs/index.js';

export interface StartNodeOptions {
  home: string;
  /** Settings that win over the config file and the environment (CLI flags). */
  overrides?: NodeConfigOverrides;
  env?: NodeJS.ProcessEnv;
  /** Also log to stdout (the log file is always written). */
  stdoutLogs?: boolean;
}

const PEER_CHECK_MS = 1000;
/** A pool half full of its client limit means heavy load (see HeapGrowthPolicy). */
const BUSY_POOL_FRACTION = 2;

/** What a listen errno means to an operator. */
const LISTEN_ERRNO: Record<string, string> = {
  EADDRINUSE: 'is already in use',
  EADDRNOTAVAIL: 'is not an address of this machine',
  EACCES: 'needs privileges this process lacks',
};

/**
 * A listener that could not start, in one line naming the port and the setting that chose it,
 * e.g. `port 26657 is already in use (api.port, on 127.0.0.1)`.
 */
function listenError(
  code: string,
  setting: 'api' | 'p2p',
  at: { host: string; port: number },
  errno: string,
): MedLedgerError {
  const meaning = LISTEN_ERRNO[errno];
  const what =
    errno === 'EADDRNOTAVAIL'
      ? `${at.host} ${meaning} (${setting}.host)`
      : `port ${at.port} ${meaning ?? `cannot be listened on: ${errno}`} (${setting}.port, on ${at.host})`;
  return new MedLedgerError(code, what, { host: at.host, port: at.port, errno });
}

/**
 * One MedLedger node: the one place where subsystems are built and wired (DESIGN §2). Each
 * subsystem gets only the modules it needs; start and stop run in dependency order.
 */
export class MedLedgerNode {
  readonly layout: HomeLayout;
  readonly config: NodeConfig;
  readonly genesis: Genesis;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly db: Database;
  readonly blocks: BlockStore;
  readonly state: StateMachine;
  readonly chain: Chain;
  readonly mempool: Mempool;
  readonly network: NetworkService;
  readonly driver: ConsensusDriver;
  readonly sync: BlockSync;
  readonly api: FastifyInstance;
  readonly documents: DocumentService;
  /** Every tx signed with the node key (evidence, access events) takes its nonce here. */
  readonly #nodeTxs: NodeTxSender;
  readonly #wal: FileConsensusWal;
  readonly #nodeKey: LoadedKey;
  readonly #txRelay: TxRelay;
  /** Signature-checking threads shared by the tx relay and block sync (`mempool.verifyThreads`). */
  readonly #verifierPool: VerifierPool;
  /** `?wait=commit` callers by tx hash: told when the tx commits, or leaves the pool without committing. */
  readonly #waiters = new Map<string, Set<{ resolve: (loc: TxLocation) => void; reject: (err: Error) => void }>>();
  readonly #heapGrowth = new HeapGrowthPolicy();
  #peerCheck: NodeJS.Timeout | undefined;
  #membership: Promise<void> = Promise.resolve();
  #allowedKeysId = '';
  #peerAheadChecks = 0;
  #ready = false;
  #apiUrl = '';

  private constructor(opts: StartNodeOptions) {
    const env = opts.env ?? process.env;
    this.layout = homeLayout(opts.home);
    this.config = loadNodeConfig(this.layout.nodeConfig, env, opts.overrides);
    this.genesis = loadGenesis(this.layout.genesis);
    this.logger = createLogger({
      level: this.config.log.level,
      name: this.config.name,
      file: this.layout.logFile,
      stdout: opts.stdoutLogs ?? false,
    });
    this.#nodeKey = readKeyFile(this.layout.nodeKey, homeKeyPassphrase(this.layout, env));
    if (!this.#nodeKey.encrypted)
      this.logger.warn('node key file is not encrypted: acceptable for a development network only');
    this.metrics = createMetrics();
    const chainId = this.genesis.chainId;
    const byzantine = byzantineModeFrom(env, this.config.faults);
    if (byzantine)
      this.logger.warn({ mode: byzantine }, 'TEST FAULT: this validator is byzantine (MEDLEDGER_BYZANTINE)');

    this.db = createDatabase({ path: this.layout.db });
    this.blocks = createBlockStore({ db: this.db });
    const wal = (this.#wal = createConsensusWal({ dir: this.layout.consensusWal }));
    this.state = createStateMachine({ genesis: this.genesis }, { db: this.db });
    const verified = new VerifiedTxCache();
    // The node's one pool of signature-checking threads (ADR 0008): relayed tx batches and, with
    // sync.verifyTxSignatures, the txs of blocks fetched by block sync. 0 threads checks on the
    // main thread.
    const pool = (this.#verifierPool = new VerifierPool({ threads: this.config.mempool.verifyThreads, minBatch: 32 }));
    const log = (module: string) => this.logger.child({ module });
    this.chain = new Chain(
      { genesis: this.genesis },
      {
        db: this.db,
        blocks: this.blocks,
        state: this.state,
        verified,
        logger: log('chain'),
        metrics: this.metrics,
        onInvalidTxs: (failed) => this.mempool.evict(failed),
        pendingTx: (hash) => this.mempool.pendingTx(hash),
      },
    );
    this.mempool = new Mempool({ ...this.config.mempool, chainId }, { state: this.state, verified });
    this.mempool.onDropped((hash, result) => this.#onDropped(hash, result));
    this.network = createNetwork(
      {
        nodeKey: this.#nodeKey.secretKey,
        listen: `/ip4/${this.config.p2p.host}/tcp/${this.config.p2p.port}`,
        bootstrap: this.config.p2p.bootstrap,
        // Until state is open: genesis members. After that the gater follows state (#refreshMembership).
        allowedKeys: [...this.genesis.orgs.flatMap((o) => o.nodeKeys), ...this.genesis.validators.map((v) => v.pubKey)],
        // A proposal may carry a whole block: the topic limit must sit above the block size limit,
        // or a full block is dropped by every peer and the height never decides.
        maxMessageBytes: { [topics(chainId).consensus]: this.genesis.params.maxBlockBytes + 256 * 1024 },
      },
      { logger: log('network') },
    );
    const topic = topics(chainId);
    const protocol = protocols(chainId);
    this.sync = new BlockSync(
      {
        syncProtocol: protocol.sync,
        statusProtocol: protocol.status,
        ...DEFAULT_SYNC_OPTIONS,
        verifyTxSignatures: this.config.sync.verifyTxSignatures,
      },
      {
        network: this.network,
        chain: this.chain,
        blocks: this.blocks,
        logger: log('sync'),
        metrics: this.metrics,
        onApplied: (c) => this.#onCommit(c, true),
        verifier: { pool, verified },
      },
    );
    this.driver = new ConsensusDriver(
      { topic: topic.consensus, proposalTxsProtocol: protocol.proposalTxs },
      {
        engine: createConsensusEngine(),
        chain: this.chain,
        mempool: this.mempool,
        // A tx its peers already hold spares them a fetch inside the propose step (ADR 0005).
        proposable: (tx) => this.#txRelay.delivered(tx.hashHex),
        network: this.network,
        wal,
        signer: new GuardedSigner(chainId, new Signer(this.#nodeKey.secretKey), this.layout.lastSignState),
        logger: log('consensus'),
        metrics: this.metrics,
        now: () => Date.now(),
        catchUp: async (reason) => {
          await this.sync.catchUp(reason);
        },
        onCommit: (c) => this.#onCommit(c, false),
        onEvidence: (a, b) => void this.#submitEvidence(a, b),
        equivocator: byzantine ? new Equivocator(chainId, new Signer(this.#nodeKey.secretKey)) : null,
      },
    );
    this.#txRelay = new TxRelay(
      { protocol: protocol.txs, ...DEFAULT_TX_RELAY_OPTIONS },
      {
        network: this.network,
        mempool: this.mempool,
        logger: log('txrelay'),
        metrics: this.metrics,
        // Relayed batches are checked on worker threads (ADR 0008); 0 threads checks them inline.
        ...(pool.threads > 0 ? { verifier: { pool, verified } } : {}),
      },
    );
    this.api = createApiServer(
      { bodyLimitBytes: this.config.api.bodyLimitBytes, commitWaitMs: this.config.api.commitWaitMs },
      {
        ready: () => this.#ready,
        status: () => this.status(),
        blocks: this.blocks,
        queries: this.state.query,
        validators: () => this.validatorsView(),
        submitTx: (bytes) => this.submitTx(bytes),
        acceptsTxs: () => this.mempool.hasRoom('api'),
        waitForCommit: (hash, ms) => this.#waitForCommit(hash, ms),
        latestTime: () => this.chain.latestTime,
        registry: this.metrics.registry,
        metrics: this.metrics,
        ...(this.config.faults ? { faults: { blockPeers: (ids: string[]) => this.network.blockPeers(ids) } } : {}),
      },
      log('api'),
    );
    const nodeTxs = (this.#nodeTxs = new NodeTxSender({
      signer: new Signer(this.#nodeKey.secretKey),
      chainId,
      committedNonce: async () => (await this.state.query.account(this.nodeAddress))?.nonce ?? 0,
      submit: (bytes) => this.submitTx(bytes),
      waitForCommit: (hash, ms) => this.#waitForCommit(hash, ms),
    }));
    this.documents = new DocumentService(
      { protocol: protocol.docs },
      {
        db: this.db,
        queries: this.state.query,
        network: this.network,
        chainId,
        nodePublicKey: this.#nodeKey.publicKey,
        encKey: this.#loadEncKey(env),
        latestTime: () => this.chain.latestTime,
        now: () => Date.now(),
        sendNodeTx: (type, payload, ms) => nodeTxs.send(type, payload, ms),
        logger: log('docs'),
      },
    );
    registerDocumentRoutes(this.api, this.documents);
  }

  /** The org's document key, `keys/enc.key`; a node without one stores and serves no documents. */
  #loadEncKey(env: NodeJS.ProcessEnv): EncKey | undefined {
    if (!existsSync(this.layout.encKey)) {
      this.logger.warn('no keys/enc.key: this node will not hold documents');
      return undefined;
    }
    const loaded = readEncKeyFile(this.layout.encKey, homeKeyPassphrase(this.layout, env));
    if (!loaded.encrypted) this.logger.warn('enc key file is not encrypted: acceptable for a development network only');
    const key = new EncKey(loaded.secretKey);
    loaded.secretKey.fill(0);
    return key;
  }

  static async start(opts: StartNodeOptions): Promise<MedLedgerNode> {
    const node = new MedLedgerNode(opts);
    try {
      await node.#start();
    } catch (err) {
      // The log file keeps the reason too: a supervisor may not show the process's stderr.
      node.logger.error(
        { code: err instanceof MedLedgerError ? err.code : undefined, reason: (err as Error).message },
        'node failed to start',
      );
      await node.stop().catch(() => undefined);
      throw err;
    }
    return node;
  }

  get apiUrl(): string {
    return this.#apiUrl;
  }

  get nodeAddress(): string {
    return addressHex(this.#nodeKey.publicKey);
  }

  async #start(): Promise<void> {
    await this.db.open();
    await this.chain.init();
    this.metrics.height.set(this.chain.height);
    await this.#refreshMembership();
    try {
      await this.network.start();
    } catch (err) {
      // libp2p reports a taken port in a paragraph with the listener's stack frames: one line
      // instead. An error without a system errno is passed on as it is.
      const errno = err instanceof MedLedgerError && err.code === NetworkErrorCode.START_FAILED && err.meta.errno;
      if (typeof errno !== 'string') throw err;
      throw listenError(NodeErrorCode.P2pListenFailed, 'p2p', this.config.p2p, errno);
    }
    await this.sync.start();
    await this.documents.start();
    await this.#txRelay.start();
    try {
      await this.api.listen({ host: this.config.api.host, port: this.config.api.port });
    } catch (err) {
      // A system errno (not one of Node's ERR_* codes, which are not about the address).
      const errno = (err as NodeJS.ErrnoException).code;
      if (!errno || !/^E[A-Z]+$/.test(errno)) throw err;
      throw listenError(NodeErrorCode.ApiListenFailed, 'api', this.config.api, errno);
    }
    const addr = this.api.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.config.api.port;
    this.#apiUrl = apiUrl(this.config.api.host, port);
    await this.driver.start();
    this.#ready = true;
    this.#peerCheck = setInterval(() => void this.#checkPeers(), PEER_CHECK_MS);
    this.logger.info(
      { height: this.chain.height, api: this.#apiUrl, peerId: this.network.peerId, chainId: this.genesis.chainId },
      'node started',
    );
  }

  async stop(): Promise<void> {
    this.#ready = false;
    if (this.#peerCheck) clearInterval(this.#peerCheck);
    await this.api.close().catch(() => undefined);
    await this.driver.stop();
    this.#txRelay.stop();
    await this.network.stop().catch(() => undefined);
    await this.#verifierPool.close();
    await this.db.close().catch(() => undefined);
    this.#wal.close();
    this.logger.info('node stopped');
    this.logger.flush();
  }

  status(): StatusView {
    const latest = this.chain.latest;
    return {
      chainId: this.genesis.chainId,
      nodeId: this.network.peerId,
      validatorAddress: this.nodeAddress,
      height: this.chain.height,
      latestBlockHash: latest ? toHex(latest.hash) : null,
      latestBlockTime: latest ? latest.block.header.time : null,
      validator: this.driver.isValidator(),
      peers: this.network.connectedPeers().length,
      catchingUp: this.driver.catchingUp,
      round: this.driver.round,
      mempoolSize: this.mempool.size,
    };
  }

  submitTx(bytes: Uint8Array): { hash: string } {
    const before = this.mempool.size;
    let entry;
    try {
      entry = this.mempool.add(bytes);
    } catch (err) {
      if (err instanceof MedLedgerError) this.metrics.mempoolRejected.inc({ code: err.code });
      throw err;
    }
    if (this.mempool.size > before) this.#txRelay.broadcast(entry);
    this.metrics.mempoolTxs.set(this.mempool.size);
    return { hash: entry.hashHex };
  }

  #waitForCommit(hash: string, timeoutMs: number): Promise<TxLocation> {
    return new Promise((resolve, reject) => {
      let set = this.#waiters.get(hash);
      if (!set) this.#waiters.set(hash, (set = new Set()));
      const waiter = {
        resolve: (loc: TxLocation) => {
          clearTimeout(timer);
          resolve(loc);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        set.delete(waiter);
        if (set.size === 0) this.#waiters.delete(hash);
        reject(
          new MedLedgerError(NodeErrorCode.Timeout, `tx not committed within ${timeoutMs} ms; it may still commit`),
        );
      }, timeoutMs);
      set.add(waiter);
    });
  }

  /** A waited-for tx that the pool dropped will not commit: its callers hear it now, not at their timeout. */
  #onDropped(hash: string, result: { code: number; log: string }): void {
    const waiters = this.#waiters.get(hash);
    if (!waiters) return;
    this.#waiters.delete(hash);
    const err = new MedLedgerError(NodeErrorCode.TxDropped, `tx left the mempool without committing: ${result.log}`, {
      hash,
      ...result,
    });
    for (const w of waiters) w.reject(err);
  }

  /**
   * The validator set of the next height with each validator's activity as this node saw it,
   * and the set already decided for the height after (changes take effect at h + 2).
   */
  validatorsView() {
    const height = this.chain.height + 1;
    const none = { lastProposedHeight: 0, lastSignedHeight: 0, missedProposals: 0, missedBlocks: 0 };
    const validators = this.chain
      .validatorsAt(height)
      .map((v) => ({ ...v, ...(this.driver.activity.get(toHex(v.address)) ?? none) }));
    const next = this.chain.validatorsAt(height + 1).map((v) => toHex(v.address));
    return { height, validators, next: { height: height + 1, validators: next } };
  }

  /**
   * The connection gater follows membership: the member node keys in committed state, plus the
   * validators of the next two heights (a removed validator stays reachable until it has left
   * the set, so the heights it still votes on keep their quorum). Called after every commit.
   */
  #followMembership(): void {
    this.#membership = this.#membership
      .then(() => this.#refreshMembership())
      .catch((err: unknown) => this.logger.warn({ reason: (err as Error).message }, 'could not update allowed peers'));
  }

  async #refreshMembership(): Promise<void> {
    const h = this.chain.height;
    const keys = new Set(await this.state.query.memberNodeKeys());
    for (const v of [...this.chain.validatorsAt(h + 1), ...this.chain.validatorsAt(h + 2)]) keys.add(toHex(v.pubKey));
    const sorted = [...keys].sort();
    const id = sorted.join(',');
    if (id === this.#allowedKeysId) return;
    const first = this.#allowedKeysId === '';
    this.#allowedKeysId = id;
    this.network.setAllowedKeys(sorted);
    if (!first) this.logger.info({ height: h, nodeKeys: sorted.length }, 'membership changed: allowed peers updated');
  }

  #onCommit(c: CommittedBlock, synced: boolean): void {
    // Erasures committed in this block: the document store deletes right after the commit.
    this.documents
      .onCommit(c.txs, c.results)
      .catch((err: unknown) => this.logger.error({ reason: (err as Error).message }, 'erasure handling failed'));
    this.#followMembership();
    if (synced) {
      this.mempool.update(c.txHashes);
      this.driver.noteSynced(c);
    }
    this.metrics.mempoolTxs.set(this.mempool.size);
    this.metrics.mempoolBytes.set(this.mempool.bytes);
    this.#heapGrowth.update(
      synced || this.driver.catchingUp || this.mempool.size >= this.config.mempool.maxTxs / BUSY_POOL_FRACTION,
    );
    c.txHashes.forEach((hash, index) => {
      const waiters = this.#waiters.get(hash);
      if (!waiters) return;
      this.#waiters.delete(hash);
      const r = c.results[index]!;
      for (const w of waiters) w.resolve({ height: c.height, index, code: r.code, log: r.log });
    });
  }

  async #checkPeers(): Promise<void> {
    this.metrics.peers.set(this.network.connectedPeers().length);
    this.#txRelay.syncPeers();
    // Txs also arrive from peers (TxRelay adds them straight to the mempool): keep the gauges fresh.
    this.metrics.mempoolTxs.set(this.mempool.size);
    this.metrics.mempoolBytes.set(this.mempool.bytes);
    if (this.driver.catchingUp) return;
    const statuses = await this.sync.peerStatuses().catch(() => []);
    const best = Math.max(0, ...statuses.map((s) => s.height));
    // One block ahead is normal for a moment (a peer committed first); more, or for long, is not.
    this.#peerAheadChecks = best > this.chain.height ? this.#peerAheadChecks + 1 : 0;
    if (best > this.chain.height + 1 || this.#peerAheadChecks >= 3) {
      this.#peerAheadChecks = 0;
      this.driver.requestCatchUp(`peer at height ${best}`);
    }
  }

  /** Equivocation evidence goes on chain as a tx signed with this node's key. */
  async #submitEvidence(a: Vote, b: Vote): Promise<void> {
    try {
      // Through the node-key sender: access events use the same key and nonce sequence.
      await this.#nodeTxs.submit(TxType.Evidence, { voteA: encodeVote(a), voteB: encodeVote(b) });
    } catch (err) {
      this.logger.warn({ reason: (err as Error).message }, 'could not submit evidence');
    }
  }
}
