import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, type Command } from 'commander';
import { isRecord, MedLedgerError, OrgKind } from '@medledger/types';
import { PASSPHRASE_ENV, PASSPHRASE_FILE_ENV, writeGeneratedPassphrase } from '@medledger/crypto';
import {
  NODE_PROCESS_ENV,
  MedLedgerNode,
  NodeErrorCode,
  ORG_FILE,
  TESTNET_FILE,
  composeFile,
  homeLayout,
  initMemberHome,
  initNodeHome,
  initTestnet,
  testnetNodeName,
  type InitializedNode,
  type TestnetManifest,
} from '@medledger/node';
import { keyPassphrase } from '../context.js';
import { parseList, recordRunningApi } from '../options.js';
import { CliErrorCode } from '../errors.js';
import { action, warn } from '../output.js';

const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a TCP port');
  return n;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

/** `init`, `start` and `testnet init|start`: the commands that run nodes rather than call one. */
export function registerNodeCommands(program: Command): void {
  program
    .command('init')
    .description('create a one-validator node home: keys, genesis and config')
    .requiredOption('--home <dir>', 'the node home to create')
    .option('--api-port <port>', 'HTTP API port', port)
    .option('--p2p-port <port>', 'libp2p TCP port', port)
    .option('--chain-id <id>', 'chain id', 'medledger-local')
    .option('--name <name>', 'node name', 'node0')
    .option('--org <id>', 'organisation id', 'hospital-0')
    .option('--org-name <name>', 'organisation name', 'Hospital 0')
    .option('--kind <kind>', `organisation kind: ${Object.values(OrgKind).join('|')}`, 'hospital')
    .option('--genesis <file>', 'join an existing consortium: its genesis file (the node syncs the chain from zero)')
    .option('--peers <addrs>', 'with --genesis: multiaddrs of consortium nodes, comma-separated', parseList)
    .option('--api-host <host>', 'address the HTTP API listens on')
    .option('--p2p-host <host>', 'address libp2p listens on (and that peers dial)')
    .option(
      '--insecure-plain-keys',
      `write the key files unencrypted (development only); otherwise they are encrypted with ${PASSPHRASE_ENV}, ` +
        `${PASSPHRASE_FILE_ENV}, or a passphrase generated into <home>/keys/passphrase`,
    )
    .option('--json', 'print exactly one JSON object on stdout')
    .action(
      action<{
        home: string;
        apiPort?: number;
        p2pPort?: number;
        chainId: string;
        name: string;
        org: string;
        orgName: string;
        kind: string;
        genesis?: string;
        peers?: string[];
        apiHost?: string;
        p2pHost?: string;
        insecurePlainKeys?: boolean;
        json?: boolean;
      }>(async (o) => {
        // Encrypted keys are the default: a plain key file on a production server is a key given away.
        // Without a passphrase from the environment, one is generated into the home so that
        // `init` then `start` work unattended; the operator moves it to a secret store (ADR 0003).
        let passphrase = keyPassphrase();
        if (!passphrase && !o.insecurePlainKeys) {
          const layout = homeLayout(resolve(o.home));
          if (existsSync(layout.nodeConfig)) {
            throw new MedLedgerError(NodeErrorCode.HomeExists, `${o.home} already holds a node; choose another --home`);
          }
          passphrase = writeGeneratedPassphrase(layout.passphrase);
          warn(
            `keys encrypted with a generated passphrase in ${layout.passphrase}: move it to a secret store and set ${PASSPHRASE_FILE_ENV}`,
          );
        }
        if (!passphrase) warn('--insecure-plain-keys: key files are written unencrypted (development only)');
        if (!(Object.values(OrgKind) as string[]).includes(o.kind)) {
          throw new MedLedgerError(CliErrorCode.USAGE, `--kind: one of ${Object.values(OrgKind).join('|')}`);
        }
        if (o.peers && !o.genesis)
          throw new MedLedgerError(CliErrorCode.USAGE, '--peers goes with --genesis (joining a network)');
        const common = {
          home: o.home,
          name: o.name,
          orgId: o.org,
          orgName: o.orgName,
          ...(o.apiPort !== undefined ? { apiPort: o.apiPort } : {}),
          ...(o.p2pPort !== undefined ? { p2pPort: o.p2pPort } : {}),
          ...(passphrase ? { passphrase } : {}),
        };
        let made: InitializedNode;
        let chainId = o.chainId;
        if (o.genesis) {
          made = initMemberHome({
            ...common,
            genesisFile: o.genesis,
            peers: o.peers ?? [],
            kind: o.kind as OrgKind,
            ...(o.apiHost ? { apiHost: o.apiHost } : {}),
            ...(o.p2pHost ? { p2pHost: o.p2pHost } : {}),
          });
          chainId = (JSON.parse(readFileSync(o.genesis, 'utf8')) as { chainId: string }).chainId;
        } else {
          made = initNodeHome({ ...common, chainId: o.chainId });
        }
        const json = {
          home: made.home,
          orgFile: join(made.home, 'config', ORG_FILE),
          chainId,
          name: made.name,
          orgId: made.orgId,
          orgKey: made.orgKeyFile,
          encKey: made.encKeyFile,
          peerId: made.peerId,
          validatorAddress: made.validatorAddress,
          api: made.api,
          p2p: made.p2p,
        };
        const next = o.genesis
          ? `\nhand ${json.orgFile} to the consortium: a member runs \`medledger member propose --org org.json\``
          : '';
        return { json, text: `initialised ${made.home}\napi ${made.api}\np2p ${made.p2p}${next}` };
      }),
    );

  program
    .command('start')
    .description('run a node until SIGINT, SIGTERM or SIGHUP')
    .requiredOption('--home <dir>', 'node home')
    .option('--api-port <port>', 'HTTP API port (overrides the config)', port)
    .option('--p2p-port <port>', 'libp2p TCP port (overrides the config)', port)
    .option('--log-stdout', 'also write the JSON logs to stdout')
    .action(async (o: { home: string; apiPort?: number; p2pPort?: number; logStdout?: boolean }) => {
      await runNode(o);
    });

  const testnet = program.command('testnet').description('a local network of validators on loopback');
  testnet
    .command('init')
    .description(
      'write N validator homes sharing one genesis, and DIR/testnet.json (plain key files: development only)',
    )
    .requiredOption('--validators <n>', 'number of validators', positive)
    .requiredOption('--dir <dir>', 'directory for the node homes')
    .option('--base-port <port>', 'node i: API on P + i, p2p on P + 100 + i', port, 26600)
    .option('--chain-id <id>', 'chain id', 'medledger-testnet')
    .option('--faults', 'enable the fault-injection endpoint (partition tests)')
    .option('--hosts <list>', 'per node, the host the others dial (IPv4 or DNS name), comma-separated', parseList)
    .option('--listen-host <host>', 'where every node listens (default: its own host)')
    .option('--docker', 'for docker compose: hosts are the service names node0..nodeN-1, nodes listen on 0.0.0.0')
    .option('--json', 'print exactly one JSON object on stdout')
    .action(
      action<{
        validators: number;
        dir: string;
        basePort: number;
        chainId: string;
        faults?: boolean;
        hosts?: string[];
        listenHost?: string;
        docker?: boolean;
        json?: boolean;
      }>(async (o) => {
        // Plain key files by design: a testnet is for development (ADR 0003); `init` encrypts.
        const hosts = o.docker ? Array.from({ length: o.validators }, (_, i) => testnetNodeName(i)) : o.hosts;
        const listenHost = o.docker ? '0.0.0.0' : o.listenHost;
        const manifest = initTestnet({
          validators: o.validators,
          dir: o.dir,
          basePort: o.basePort,
          chainId: o.chainId,
          faults: !!o.faults,
          ...(hosts ? { hosts } : {}),
          ...(listenHost ? { listenHost } : {}),
        });
        return { json: manifest, text: manifest.nodes.map((n) => `${n.name}  ${n.api}  ${n.home}`).join('\n') };
      }),
    );
  testnet
    .command('compose')
    .description('print the docker compose file of an N-validator testnet (testnet/docker-compose.yml is its output)')
    .option('--validators <n>', 'number of validators', positive, 4)
    .option('--base-port <port>', 'node i: API on P + i (published on 127.0.0.1), p2p on P + 100 + i', port, 26600)
    .option('--chain-id <id>', 'chain id', 'medledger-testnet')
    .option('--image <name>', 'image name', 'medledger:local')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (o: { validators: number; basePort: number; chainId: string; image: string; out?: string }) => {
      const yaml = composeFile({ validators: o.validators, basePort: o.basePort, chainId: o.chainId, image: o.image });
      if (o.out) writeFileSync(o.out, yaml);
      else process.stdout.write(yaml);
    });
  testnet
    .command('start')
    .description('run every node of a testnet as its own process; Ctrl-C stops them all')
    .requiredOption('--dir <dir>', 'directory written by `testnet init`')
    .action(async (o: { dir: string }) => {
      await runTestnet(o.dir);
    });
}

/** The IPC message `start` sends once its node runs. */
const NODE_STARTED = 'node-started';

/** Signals that stop a node or a testnet in order. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Calls `stop(reason)` on every SIGINT, SIGTERM or SIGHUP, and when the process that spawned this
 * one with an IPC channel (`testnet start`, scripts/testnet.mjs) goes away. The signal handlers
 * stay for the life of the process (they do not keep it alive; `stop` must ignore repeats): a
 * Ctrl-C reaches every process of the terminal's group, a wrapper may pass it on again, and
 * `testnet start` sends its own SIGTERM; a copy meeting no handler, even after the stop, would
 * kill the process by the default action. The returned function stops watching the parent.
 */
function onStopRequest(stop: (reason: string) => void): () => void {
  for (const signal of STOP_SIGNALS) process.on(signal, () => stop(signal));
  // Listening for 'disconnect' keeps the IPC channel referenced, so the process could not exit.
  const onDisconnect = () => stop('parent process exited');
  if (process.channel) process.on('disconnect', onDisconnect);
  return () => process.off('disconnect', onDisconnect);
}

async function runNode(o: { home: string; apiPort?: number; p2pPort?: number; logStdout?: boolean }): Promise<void> {
  const overrides = {
    ...(o.apiPort !== undefined ? { api: { port: o.apiPort } } : {}),
    ...(o.p2pPort !== undefined ? { p2p: { port: o.p2pPort } } : {}),
  };
  // Whoever read stdout may be gone (a killed `testnet start`, a closed terminal): the node stops
  // in order anyway rather than die of EPIPE on its next line.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  // Installed before the node starts: a stop asked for meanwhile waits for the start, then stops.
  let stopReason: string | undefined;
  let requestStop: (reason: string) => void = (reason) => (stopReason ??= reason);
  const stopWatchingParent = onStopRequest((reason) => requestStop(reason));
  try {
    const node = await MedLedgerNode.start({ home: resolve(o.home), overrides, stdoutLogs: !!o.logStdout });
    // Recorded before the line below: whoever waits for that line may run a --home command next.
    const forgetApi = recordApi(node);
    process.stdout.write(`MedLedger node ${node.config.name} (chain ${node.genesis.chainId}) API ${node.apiUrl}\n`);
    // Spawned with an IPC channel (`testnet start`): the parent learns the node runs.
    if (process.connected) process.send!({ medledger: NODE_STARTED, api: node.apiUrl });
    const reason = await new Promise<string>((resolveStop) => {
      if (stopReason !== undefined) return resolveStop(stopReason);
      requestStop = (r) => resolveStop((stopReason ??= r));
    });
    node.logger.info({ reason }, 'shutting down');
    try {
      await node.stop();
    } finally {
      forgetApi();
    }
    process.stdout.write(`MedLedger node ${node.config.name} stopped (${reason})\n`);
  } finally {
    stopWatchingParent();
  }
}

/**
 * Where the node's API listens, for commands given --home (options.ts); without the record they
 * use config/node.json, so a failure to write it costs only that and is logged.
 */
function recordApi(node: MedLedgerNode): () => void {
  const address = node.api.server.address();
  const port = typeof address === 'object' && address ? address.port : node.config.api.port;
  try {
    return recordRunningApi(node.layout.home, { host: node.config.api.host, port });
  } catch (err) {
    node.logger.warn({ reason: (err as Error).message }, 'cannot record the API address in the home');
    return () => undefined;
  }
}

/** A node that has not exited this long after SIGTERM is killed: a hung one cannot hold the testnet up. */
const NODE_STOP_TIMEOUT_MS = 20_000;

/** One node process of `testnet start`. */
interface TestnetMember {
  name: string;
  child: ChildProcess;
  /** Its `start` said, over IPC, that the node runs. */
  started: boolean;
  /** Why it failed: its last error line on stderr, else its last stderr line. */
  reason: string;
}

/** The CLI's `error: CODE: message`, or the `Error: message` line of an uncaught exception. */
const ERROR_LINE = /^(error: |\w*Error\b)/;

function eachLine(stream: Readable, onLine: (line: string) => void): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
}

async function runTestnet(dir: string): Promise<void> {
  let manifest: TestnetManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, TESTNET_FILE), 'utf8')) as TestnetManifest;
  } catch (err) {
    throw new MedLedgerError(
      NodeErrorCode.HomeMissing,
      `no testnet in ${dir}: run \`medledger testnet init\` first (${(err as Error).message})`,
    );
  }
  const bin = fileURLToPath(new URL('../bin.js', import.meta.url));
  process.stdout.write(
    `testnet ${manifest.chainId}: ${manifest.nodes.length} validators; logs in each <home>/logs/node.log; Ctrl-C stops all\n`,
  );
  for (const n of manifest.nodes) process.stdout.write(`  ${n.name}  API ${n.api}\n`);

  let stopping = false;
  let killTimer: NodeJS.Timeout | undefined;
  const failures: string[] = [];
  const running = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;
  const stopAll = (reason: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`testnet: stopping every node (${reason})\n`);
    for (const m of members) if (running(m.child)) m.child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      for (const m of members.filter((x) => running(x.child))) {
        m.reason ||= `still running ${NODE_STOP_TIMEOUT_MS / 1000} s after SIGTERM`;
        m.child.kill('SIGKILL');
      }
    }, NODE_STOP_TIMEOUT_MS);
  };
  const members: TestnetMember[] = manifest.nodes.map((n) => {
    // The IPC channel tells this process when a node runs, and tells a node when this process is
    // gone, even killed outright.
    const child = spawn(process.execPath, [bin, 'start', '--home', n.home], {
      env: { ...NODE_PROCESS_ENV, ...process.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const m: TestnetMember = { name: n.name, child, started: false, reason: '' };
    eachLine(child.stdout!, (line) => process.stdout.write(`[${n.name}] ${line}\n`));
    eachLine(child.stderr!, (line) => {
      if (ERROR_LINE.test(line) || !ERROR_LINE.test(m.reason)) m.reason = line;
      process.stderr.write(`[${n.name}] ${line}\n`);
    });
    child.on('message', (msg: unknown) => {
      if (!isRecord(msg) || msg.medledger !== NODE_STARTED) return;
      m.started = true;
      if (members.every((x) => x.started)) process.stdout.write(`testnet: all ${members.length} nodes started\n`);
    });
    child.on('error', (err) => (m.reason ||= err.message));
    return m;
  });

  // A node that fails while the others start stops the testnet: a network short of a validator
  // that looks healthy is worse than none. One that dies later is reported and the others keep
  // running, as a real network would; either way the testnet exits non-zero in the end.
  const onClose = (m: TestnetMember, code: number | null, signal: NodeJS.Signals | null) => {
    // A node still loading when the stop came may die of the signal before its handlers exist.
    if (stopping && (code === 0 || (STOP_SIGNALS as readonly string[]).includes(signal ?? ''))) {
      process.stdout.write(`[${m.name}] exited (${signal ?? code})\n`);
      return;
    }
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    const why = `(${how})${m.reason ? `: ${m.reason.replace(/^error: /, '')}` : ''}`;
    if (!m.started) {
      failures.push(`${m.name} failed to start ${why}`);
      process.stderr.write(`testnet: ${m.name} FAILED TO START ${why}\n`);
      stopAll(`${m.name} failed to start`);
    } else if (stopping) {
      failures.push(`${m.name} did not stop cleanly ${why}`);
      process.stderr.write(`testnet: ${m.name} did not stop cleanly ${why}\n`);
    } else {
      // Exit code 0 without a stop from here: someone stopped that node on purpose.
      if (code !== 0) failures.push(`${m.name} stopped unexpectedly ${why}`);
      const left = members.filter((x) => running(x.child)).length;
      process.stderr.write(
        `testnet: NODE DOWN: ${m.name} stopped ${why}; ${left} of ${members.length} nodes still run (Ctrl-C stops them)\n`,
      );
    }
  };
  const stopWatchingParent = onStopRequest(stopAll);
  try {
    await Promise.all(
      members.map(
        (m) => new Promise<void>((done) => m.child.once('close', (code, signal) => done(onClose(m, code, signal)))),
      ),
    );
  } finally {
    clearTimeout(killTimer);
    stopWatchingParent();
  }
  if (failures.length > 0) throw new MedLedgerError(CliErrorCode.TESTNET_NODE_FAILED, failures.join('; '));
}
