import type { FastifyInstance } from 'fastify';
import { MedLedgerError, toHex } from '@medledger/types';
import type { StateQueries, Validator } from '@medledger/state';
import { NodeErrorCode } from '../errors.js';

export interface GovernanceApiContext {
  queries: StateQueries;
  /** Validators in force at the next height. */
  validators(): { height: number; validators: Validator[] };
}

/**
 * Consortium membership and governance (ADR 0007): `GET /members` (organisations with the
 * validators they run), `GET /proposals` and `GET /proposals/:id`.
 */
export function registerGovernanceRoutes(app: FastifyInstance, ctx: GovernanceApiContext): void {
  app.get('/members', async () => {
    const { height, validators } = ctx.validators();
    const orgs = await ctx.queries.orgs();
    return {
      height,
      members: orgs.map((o) => ({
        ...o,
        validators: validators.filter((v) => v.org === o.id).map((v) => ({ address: toHex(v.address), name: v.name })),
      })),
    };
  });

  app.get('/proposals', async () => ({ proposals: await ctx.queries.proposals() }));

  app.get<{ Params: { id: string } }>(
    '/proposals/:id',
    {
      schema: {
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9a-f]{32}$' } }, required: ['id'] },
      },
    },
    async (req) => {
      const proposal = await ctx.queries.proposal(req.params.id);
      if (!proposal) throw new MedLedgerError(NodeErrorCode.NotFound, 'proposal not found');
      return { proposal };
    },
  );
}
