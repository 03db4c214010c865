import type { ConnectionGater, PeerId } from '@libp2p/interface';
import { publicKeyHexOf } from './keys.js';

/**
 * Who may talk to us: peers whose node key is in the consortium's allowed set (genesis +
 * governance) and who are not blocked by the fault layer. Checked when dialling and again once
 * the Noise handshake has proven the remote's key, in both directions.
 */
export class PeerGate {
  private allowed = new Set<string>();
  private blocked = new Set<string>();

  constructor(allowedKeysHex: Iterable<string>) {
    this.setAllowedKeys(allowedKeysHex);
  }

  setAllowedKeys(keysHex: Iterable<string>): void {
    this.allowed = new Set([...keysHex].map((k) => k.toLowerCase()));
  }

  /** Replaces the blocked set; returns the peers that became unblocked. */
  setBlocked(peerIds: Iterable<string>): string[] {
    const next = new Set(peerIds);
    const healed = [...this.blocked].filter((p) => !next.has(p));
    this.blocked = next;
    return healed;
  }

  isBlocked(peerId: string): boolean {
    return this.blocked.has(peerId);
  }

  isAllowed(peerId: PeerId): boolean {
    const key = publicKeyHexOf(peerId);
    return key !== undefined && this.allowed.has(key);
  }

  admits(peerId: PeerId): boolean {
    return this.isAllowed(peerId) && !this.isBlocked(peerId.toString());
  }

  connectionGater(): ConnectionGater {
    const deny = (peerId: PeerId): boolean => !this.admits(peerId);
    return {
      denyDialPeer: deny,
      denyOutboundConnection: deny,
      denyInboundEncryptedConnection: deny,
      denyOutboundEncryptedConnection: deny,
      denyInboundUpgradedConnection: deny,
      denyOutboundUpgradedConnection: deny,
      // No relays in a consortium network.
      denyInboundRelayReservation: () => true,
      denyOutboundRelayedConnection: () => true,
      denyInboundRelayedConnection: () => true,
    };
  }
}
