import { ADDRESS_BYTES, fromHex } from '@medledger/types';
import { indexKey, lengthPrefixed, stateKey, uint32BE, uint64BE } from '@medledger/db';

/**
 * Key layout inside the State and Index buckets (ADR 0004). The first byte after the bucket
 * names the kind of entry. Ids (32 hex) are stored as their 16 bytes; org ids and FHIR types
 * are length-prefixed; times and heights are u64 big-endian so key order is time order.
 *
 * State (hashed into the app hash):
 *   'g'                                   chain: chain id, genesis time, params
 *   'o' ‖ lp(org)                         organisation
 *   'O' ‖ lp(org)                         a removed organisation's id, never given out again (ADR 0007)
 *   'k' ‖ pubkey(32)                      owner of an org key or node key: {org, role}
 *   'V'                                   validator sets, each with the height it takes effect
 *   'a' ‖ address(20)                     account: last nonce
 *   'p' ‖ patient(16)                     patient
 *   'r' ‖ record(16)                      record version
 *   'n' ‖ record(16)                      the version that amends it (at most one)
 *   'c' ‖ consent(16)                     consent
 *   'e' ‖ height(8) ‖ txIndex(4)          access event
 *   'x' ‖ validator(20) ‖ height(8) ‖ round(8) ‖ type(1)   evidence
 *   'z' ‖ record(16)                      erasure of a record's document (ADR 0006)
 *   'q' ‖ sha256(request)(32)             a document request already served (replay guard)
 *   'G' ‖ proposal(16)                    governance proposal with its votes (ADR 0007)
 *
 * Index (derived, not hashed; every entry's value is empty, the key carries everything):
 *   records by patient         0x01 ‖ patient(16) ‖ time(8) ‖ record(16)
 *   records by patient + type  0x02 ‖ patient(16) ‖ lp(type) ‖ time(8) ‖ record(16)
 *   records by author          0x03 ‖ lp(org) ‖ time(8) ‖ record(16)
 *   records by author + type   0x04 ‖ lp(org) ‖ lp(type) ‖ time(8) ‖ record(16)
 *   records by type            0x05 ‖ lp(type) ‖ time(8) ‖ record(16)
 *   consents by patient        0x10 ‖ patient(16) ‖ time(8) ‖ consent(16)
 *   consents by grantee        0x11 ‖ lp(org) ‖ time(8) ‖ consent(16)
 *   access by patient          0x20 ‖ patient(16) ‖ time(8) ‖ height(8) ‖ txIndex(4)
 *   access by accessor         0x21 ‖ lp(org) ‖ time(8) ‖ height(8) ‖ txIndex(4)
 */
const tag = (c: string) => new Uint8Array([c.charCodeAt(0)]);
const byte = (b: number) => new Uint8Array([b]);

export const StateTag = {
  Chain: tag('g'),
  Org: tag('o'),
  RemovedOrg: tag('O'),
  KeyOwner: tag('k'),
  ValidatorSets: tag('V'),
  Account: tag('a'),
  Patient: tag('p'),
  Record: tag('r'),
  Successor: tag('n'),
  Consent: tag('c'),
  AccessEvent: tag('e'),
  Evidence: tag('x'),
  Erasure: tag('z'),
  ServedRequest: tag('q'),
  Proposal: tag('G'),
} as const;

export const IndexTag = {
  RecordsByPatient: byte(0x01),
  RecordsByPatientType: byte(0x02),
  RecordsByAuthor: byte(0x03),
  RecordsByAuthorType: byte(0x04),
  RecordsByType: byte(0x05),
  ConsentsByPatient: byte(0x10),
  ConsentsByGrantee: byte(0x11),
  AccessByPatient: byte(0x20),
  AccessByAccessor: byte(0x21),
} as const;

export const ID_BYTES = 16;
/** time(8) ‖ id(16) ends every record and consent index key. */
export const TIME_ID_TAIL = 8 + ID_BYTES;
/** time(8) ‖ height(8) ‖ txIndex(4) ends every access index key. */
export const ACCESS_TAIL = 8 + 8 + 4;
/** validator(20) ‖ height(8) ‖ round(8) ‖ type(1): an evidence key after its prefix. */
export const EVIDENCE_TAIL = ADDRESS_BYTES + 8 + 8 + 1;
/** height(8) ‖ txIndex(4) names an access event. */
export const EVENT_ID_BYTES = 12;

/** Ids are validated as 32 lowercase hex before they get here. */
export const idBytes = (id: string): Uint8Array => fromHex(id, 'id');

export const chainKey = (): Uint8Array => stateKey(StateTag.Chain);
export const orgKey = (id: string): Uint8Array => stateKey(StateTag.Org, lengthPrefixed(id));
export const removedOrgKey = (id: string): Uint8Array => stateKey(StateTag.RemovedOrg, lengthPrefixed(id));
export const keyOwnerKey = (pubKey: Uint8Array): Uint8Array => stateKey(StateTag.KeyOwner, pubKey);
export const validatorSetsKey = (): Uint8Array => stateKey(StateTag.ValidatorSets);
export const accountKey = (address: Uint8Array): Uint8Array => stateKey(StateTag.Account, address);
export const patientKey = (id: string): Uint8Array => stateKey(StateTag.Patient, idBytes(id));
export const recordKey = (id: string | Uint8Array): Uint8Array =>
  stateKey(StateTag.Record, typeof id === 'string' ? idBytes(id) : id);
export const successorKey = (id: string): Uint8Array => stateKey(StateTag.Successor, idBytes(id));
export const consentKey = (id: string | Uint8Array): Uint8Array =>
  stateKey(StateTag.Consent, typeof id === 'string' ? idBytes(id) : id);
export const eventId = (height: number, txIndex: number): Uint8Array =>
  new Uint8Array([...uint64BE(height), ...uint32BE(txIndex)]);
export const accessEventKey = (id: Uint8Array): Uint8Array => stateKey(StateTag.AccessEvent, id);
export const evidenceKey = (validator: Uint8Array, height: number, round: number, type: number): Uint8Array =>
  stateKey(StateTag.Evidence, validator, uint64BE(height), uint64BE(round), byte(type));
export const evidencePrefix = (): Uint8Array => stateKey(StateTag.Evidence);
export const orgPrefix = (): Uint8Array => stateKey(StateTag.Org);
export const erasureKey = (record: string): Uint8Array => stateKey(StateTag.Erasure, idBytes(record));
export const servedRequestKey = (requestHash: Uint8Array): Uint8Array => stateKey(StateTag.ServedRequest, requestHash);
export const keyOwnerPrefix = (): Uint8Array => stateKey(StateTag.KeyOwner);
export const proposalKey = (id: string): Uint8Array => stateKey(StateTag.Proposal, idBytes(id));
export const proposalPrefix = (): Uint8Array => stateKey(StateTag.Proposal);

// Index keys, built in one allocation from their parts and `tail` (time(8) ‖ ...). Without a
// tail they are the prefix a query ranges over.
export const recordsByPatientKey = (patient: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.RecordsByPatient, idBytes(patient), ...tail);
export const recordsByPatientTypeKey = (patient: string, type: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.RecordsByPatientType, idBytes(patient), lengthPrefixed(type), ...tail);
export const recordsByAuthorKey = (org: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.RecordsByAuthor, lengthPrefixed(org), ...tail);
export const recordsByAuthorTypeKey = (org: string, type: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.RecordsByAuthorType, lengthPrefixed(org), lengthPrefixed(type), ...tail);
export const recordsByTypeKey = (type: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.RecordsByType, lengthPrefixed(type), ...tail);
export const consentsByPatientKey = (patient: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.ConsentsByPatient, idBytes(patient), ...tail);
export const consentsByGranteeKey = (org: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.ConsentsByGrantee, lengthPrefixed(org), ...tail);
export const accessByPatientKey = (patient: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.AccessByPatient, idBytes(patient), ...tail);
export const accessByAccessorKey = (org: string, ...tail: Uint8Array[]): Uint8Array =>
  indexKey(IndexTag.AccessByAccessor, lengthPrefixed(org), ...tail);
