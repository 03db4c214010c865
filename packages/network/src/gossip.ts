import { createHash } from 'node:crypto';
import { TopicValidatorResult, type Message, type TopicValidatorFn } from '@libp2p/gossipsub';
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score';
import type { Logger } from 'pino';
import { plain } from './bytes.js';
import { GossipVerdict, type GossipValidator } from './interface.js';
import type { NetworkMetrics } from './metrics.js';

/**
 * Message id for StrictNoSign: there is no (from, seqno) to identify a message, so the id is a
 * hash. It covers the topic as well as the data so identical bytes on two topics are two
 * messages (otherwise the second would be dropped as a duplicate). The topic is length-prefixed
 * so (topic, data) pairs cannot collide by shifting bytes between them.
 */
export function msgIdFn(msg: Message): Uint8Array {
  const topic = Buffer.from(msg.topic, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(topic.length);
  return new Uint8Array(createHash('sha256').update(len).update(topic).update(msg.data).digest());
}

export function msgIdToStrFn(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('base64');
}

/**
 * Scoring for a permissioned network. Every peer is a known consortium member, so the signals
 * gossipsub uses against Sybils on open networks are switched off: IP colocation (a testnet
 * runs every node on one host) and mesh-delivery deficits (an idle chain delivers little and
 * that is not misbehaviour). What remains is the penalty for invalid messages: the validator's
 * Reject counts squared, so a peer that keeps sending invalid messages falls below the
 * graylist threshold (its RPCs are dropped unread) and climbs back as the counter decays.
 */
export const gossipScoreThresholds: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 100,
  opportunisticGraftThreshold: 5,
};

export function gossipScoreParams(): Partial<PeerScoreParams> {
  return {
    topics: {},
    topicScoreCap: 10,
    appSpecificScore: () => 0,
    appSpecificWeight: 1,
    IPColocationFactorWeight: 0,
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 6,
    behaviourPenaltyDecay: 0.9,
    decayInterval: 1000,
    decayToZero: 0.01,
    retainScore: 10 * 60 * 1000,
  };
}

/** Per-topic score: ~5 rejects in quick succession graylist a peer; the counter halves in ~7 s. */
export function topicScoreParams(): TopicScoreParams {
  return {
    topicWeight: 1,
    timeInMeshWeight: 0.01,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 300,
    firstMessageDeliveriesWeight: 0.5,
    firstMessageDeliveriesDecay: 0.9,
    firstMessageDeliveriesCap: 20,
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.9,
    meshMessageDeliveriesCap: 100,
    meshMessageDeliveriesThreshold: 1,
    meshMessageDeliveriesWindow: 100,
    meshMessageDeliveriesActivation: 60_000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.9,
    invalidMessageDeliveriesWeight: -5,
    invalidMessageDeliveriesDecay: 0.9,
  };
}

const toResult = {
  [GossipVerdict.Accept]: TopicValidatorResult.Accept,
  [GossipVerdict.Ignore]: TopicValidatorResult.Ignore,
  [GossipVerdict.Reject]: TopicValidatorResult.Reject,
} as const;

export interface TopicValidatorInit {
  topic: string;
  maxBytes: number;
  maxPending: number;
  validate: GossipValidator;
  isBlocked(peerId: string): boolean;
  log: Logger;
  metrics?: NetworkMetrics;
}

/**
 * Wraps the node's validator for gossipsub. Order: the fault layer (ignore, not the sender's
 * fault), size (reject: a member sending oversize messages is misbehaving), queue bound (ignore:
 * we are overloaded, the sender did nothing wrong), then the node's validator, whose throw counts
 * as reject. Never throws, whatever the bytes.
 */
export function createTopicValidator(init: TopicValidatorInit): TopicValidatorFn & { pending(): number } {
  let pending = 0;
  const { topic, maxBytes, maxPending, validate, isBlocked, log, metrics } = init;
  const fn = async (peer: { toString(): string }, msg: Message): Promise<TopicValidatorResult> => {
    const from = peer.toString();
    if (isBlocked(from)) {
      metrics?.gossipValidated?.(topic, GossipVerdict.Ignore, 'blocked');
      return TopicValidatorResult.Ignore;
    }
    if (msg.data.length > maxBytes) {
      log.debug({ topic, from, bytes: msg.data.length, maxBytes }, 'gossip message oversize, rejected');
      metrics?.gossipValidated?.(topic, GossipVerdict.Reject, 'oversize');
      return TopicValidatorResult.Reject;
    }
    if (pending >= maxPending) {
      metrics?.gossipValidated?.(topic, GossipVerdict.Ignore, 'queue_full');
      return TopicValidatorResult.Ignore;
    }
    pending++;
    try {
      const verdict = await validate(plain(msg.data), from);
      const result = toResult[verdict as GossipVerdict];
      if (result === undefined) {
        log.warn({ topic, verdict: String(verdict) }, 'gossip validator returned an unknown verdict, rejected');
        metrics?.gossipValidated?.(topic, GossipVerdict.Reject, 'validator_threw');
        return TopicValidatorResult.Reject;
      }
      metrics?.gossipValidated?.(topic, verdict, 'validator');
      return result;
    } catch (err) {
      log.debug(
        { topic, from, err: err instanceof Error ? err.message : String(err) },
        'gossip validator threw, rejected',
      );
      metrics?.gossipValidated?.(topic, GossipVerdict.Reject, 'validator_threw');
      return TopicValidatorResult.Reject;
    } finally {
      pending--;
    }
  };
  return Object.assign(fn as unknown as TopicValidatorFn, { pending: () => pending });
}
