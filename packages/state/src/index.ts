export * from './interface.js';
export * from './errors.js';
export * from './options.js';
export { createStateMachine, MedLedgerStateMachine } from './machine.js';
export { StateQueryService } from './queries.js';
export { writeSetHash, resultsHash, nextAppHash } from './commitment.js';
export { ConsentStatus, consentStatus } from './modules/consent.js';
export type { ErasureView } from './modules/erasure.js';
export { ProposalStatus, passThreshold, type ProposalView } from './modules/governance.js';
