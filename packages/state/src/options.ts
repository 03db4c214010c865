import type { GenesisInput } from './interface.js';

export interface QueryLimits {
  /** Page size when a query gives none. */
  defaultLimit: number;
  /** Larger requested pages are cut to this. */
  maxLimit: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = { defaultLimit: 50, maxLimit: 500 };

export interface StateMachineOptions extends GenesisInput {
  queryLimits?: Partial<QueryLimits>;
}
