import { InvalidArgumentError, type Command } from 'commander';
import { randomId, type MedLedgerClient, type ProposalJson } from '@medledger/client';
import { GovActionType, MedLedgerError, TxType, fromHex, type GovAction } from '@medledger/types';
import { NodeErrorCode, readOrgDescriptor } from '@medledger/node';
import { chainClient, signingAccount } from '../context.js';
import { CliErrorCode } from '../errors.js';
import { withChainOptions, withSigningOptions, type ChainOptions, type SigningOptions } from '../options.js';
import { action, isoTime } from '../output.js';

interface ProposeOptions extends SigningOptions {
  org?: string;
  validator?: boolean;
  remove?: string;
  removeValidator?: string;
  id?: string;
}

interface VoteOptions extends SigningOptions {
  proposal: string;
  yes?: boolean;
  no?: boolean;
}

const ID = /^[0-9a-f]{32}$/;
const proposalId = (v: string) => {
  if (!ID.test(v)) throw new InvalidArgumentError('expected a proposal id (32 hex)');
  return v;
};

function proposalLine(p: ProposalJson): string {
  const what = describeAction(p.action);
  return `${p.id}  ${p.status.padEnd(8)}  ${p.yes}/${p.needed} of ${p.validators}  ${what}  by ${p.proposer}  expires ${isoTime(p.expires)}`;
}

function describeAction(a: ProposalJson['action']): string {
  switch (a.type) {
    case GovActionType.MemberAdd: {
      const org = a.org as { id: string };
      return `add member ${org.id}${a.validator ? ' as validator' : ''}`;
    }
    case GovActionType.MemberRemove:
      return `remove member ${String(a.org)}`;
    case GovActionType.ValidatorAdd:
      return `add validator ${(a.validator as { name: string }).name} of ${String(a.org)}`;
    case GovActionType.ValidatorRemove:
      return `remove validator ${String(a.pubKey).slice(0, 16)}…`;
    default:
      return a.type;
  }
}

/** Builds the action: from an org descriptor (add), an org id (remove) or a validator (remove). */
async function buildAction(opts: ProposeOptions, client: MedLedgerClient): Promise<GovAction> {
  const given = [opts.org, opts.remove, opts.removeValidator].filter((x) => x !== undefined).length;
  if (given !== 1) {
    throw new MedLedgerError(
      CliErrorCode.USAGE,
      'give exactly one of --org FILE, --remove ORG or --remove-validator KEY',
    );
  }
  if (opts.org !== undefined) {
    const d = readOrgDescriptor(opts.org);
    const validator = opts.validator ? { pubKey: fromHex(d.node.pubKey, 'node.pubKey'), name: d.node.name } : null;
    const members = await client.members();
    if (members.members.some((m) => m.id === d.id)) {
      // Already a member: --validator makes its node a validator; anything else is a mistake.
      if (!validator)
        throw new MedLedgerError(NodeErrorCode.AlreadyExists, `${d.id} is already a member; add --validator?`);
      return { type: GovActionType.ValidatorAdd, org: d.id, validator };
    }
    return {
      type: GovActionType.MemberAdd,
      org: {
        id: d.id,
        name: d.name,
        kind: d.kind,
        orgKey: fromHex(d.orgKey, 'orgKey'),
        encKey: d.encKey ? fromHex(d.encKey, 'encKey') : new Uint8Array(0),
        nodeKeys: d.nodeKeys.map((k) => fromHex(k, 'nodeKey')),
      },
      validator,
    };
  }
  if (opts.remove !== undefined) {
    if (opts.validator) {
      throw new MedLedgerError(CliErrorCode.USAGE, '--remove takes the whole organisation out; use --remove-validator');
    }
    return { type: GovActionType.MemberRemove, org: opts.remove };
  }
  // A validator by public key, address or name, as GET /validators lists them.
  const wanted = opts.removeValidator!.toLowerCase();
  const { validators } = await client.validators();
  const v = validators.find((x) => x.pubKey === wanted || x.address === wanted || x.name.toLowerCase() === wanted);
  if (!v) throw new MedLedgerError(NodeErrorCode.NotFound, `no validator ${opts.removeValidator} in the current set`);
  return { type: GovActionType.ValidatorRemove, pubKey: fromHex(v.pubKey, 'pubKey') };
}

/** `medledger member ...`: consortium membership and its governance (ADR 0007). */
export function registerMemberCommands(program: Command): void {
  const member = program.command('member').description('consortium members and governance proposals (ADR 0007)');

  withSigningOptions(
    member
      .command('propose')
      .description(
        "propose a change to the consortium, signed with this organisation's org key; waits for the commit. " +
          'Proposing counts as a yes from the validators the proposing organisation runs',
      )
      .option('--org <file>', 'add the organisation described by this org.json (written by `medledger init`)')
      .option('--validator', "with --org: also make the organisation's node a validator")
      .option('--remove <org>', 'remove this member organisation (and its validators)')
      .option('--remove-validator <key>', 'take a validator (public key, address or name) out of the set')
      .option('--id <id>', 'proposal id (32 hex); default: a fresh random id', proposalId),
  ).action(
    action<ProposeOptions>(async (opts) => {
      const client = chainClient(opts);
      const action = await buildAction(opts, client);
      const proposal = opts.id ?? randomId();
      const account = await signingAccount(opts);
      const r = await account.send(TxType.GovPropose, { proposal, action }, { wait: 'commit' });
      const { proposal: p } = await client.proposal(proposal);
      return {
        json: { proposal, status: p.status, yes: p.yes, needed: p.needed, tx: r.hash, height: r.height },
        text: `proposal ${proposal}: ${describeAction(p.action)} — ${p.status} (${p.yes}/${p.needed} yes)`,
      };
    }),
  );

  withSigningOptions(
    member
      .command('vote')
      .description(
        "vote on a proposal with this organisation's org key (counts for each validator it runs) or a validator's node key",
      )
      .requiredOption('--proposal <id>', 'proposal id', proposalId)
      .option('--yes', 'approve')
      .option('--no', 'reject'),
  ).action(
    action<VoteOptions>(async (opts) => {
      if (!!opts.yes === !!opts.no) throw new MedLedgerError(CliErrorCode.USAGE, 'give exactly one of --yes or --no');
      const approve = !!opts.yes;
      const account = await signingAccount(opts);
      const r = await account.send(TxType.GovVote, { proposal: opts.proposal, approve }, { wait: 'commit' });
      const { proposal: p } = await chainClient(opts).proposal(opts.proposal);
      return {
        json: {
          proposal: opts.proposal,
          approve,
          status: p.status,
          yes: p.yes,
          no: p.no,
          needed: p.needed,
          tx: r.hash,
          height: r.height,
        },
        text: `voted ${approve ? 'yes' : 'no'} on ${opts.proposal}: ${p.status} (${p.yes}/${p.needed} yes, ${p.no} no)`,
      };
    }),
  );

  withChainOptions(member.command('list').description('member organisations and the validators they run')).action(
    action<ChainOptions>(async (opts) => {
      const body = await chainClient(opts).members();
      const lines = body.members.map(
        (m) =>
          `${m.id.padEnd(20)} ${m.kind.padEnd(12)} ${m.name}${m.validators.length ? `  validators: ${m.validators.map((v) => v.name).join(', ')}` : ''}`,
      );
      return { json: body, text: lines.join('\n') };
    }),
  );

  withChainOptions(member.command('proposals').description('governance proposals, newest first')).action(
    action<ChainOptions>(async (opts) => {
      const body = await chainClient(opts).proposals();
      return { json: body, text: body.proposals.length ? body.proposals.map(proposalLine).join('\n') : 'no proposals' };
    }),
  );
}
