/**
 * What a store does for one peer's control messages, whatever carried them: the peer channel
 * (peer-channel.ts, serveChannel) and the gRPC service (cluster-node.ts, an adapter) both call one
 * PeerHandler per calling node, so the two protocols cannot disagree.
 */
import type { ObjectEvent } from './peer-service.js';

/**
 * A home's answer to a claim: granted, denied (another node holds the id), retry (the home cannot
 * decide now: it is fenced, or the membership is changing), unreachable (no answer in time).
 */
export type HomeAnswer = 'granted' | 'denied' | 'retry' | 'unreachable';

/** Where a looked-up object lies in its owner's region (absent: not there). */
export interface Location {
  offset: number;
  dataSize: number;
  metadataSize: number;
  digest: Uint8Array;
}

export interface PeerHandler {
  /** Grant the id to the caller unless another node holds it (or answer retry). */
  claim(key: string): HomeAnswer;
  unclaim(key: string): void;
  /** The caller holds this id (a membership change moved its home here): record it. */
  hold(key: string): HomeAnswer;
  /** The caller rejoins and asks to keep this sealed id: answer when the home can decide. */
  reclaim(key: string, answer: (result: HomeAnswer) => void): void;
  /**
   * The caller relays an id a departed member held (`ownerHash`: SHA-1 of that member's name, hex),
   * which it learnt `ageMs` ago, because this node is its home now: treat it as held.
   */
  tombstone(ownerHash: string, key: string, ageMs: number): void;
  /** The caller sent every hold for `view` and claims in it from now on. */
  settled(view: bigint): void;
  /** The caller rejoins in `view`: its reclaims follow. */
  rejoining(view: bigint): void;
  /** Pin these for the caller; where each lies (undefined: not here), in order. */
  lookup(keys: string[]): (Location | undefined)[];
  unpin(keys: string[]): void;
  /** Send `push` every owned sealed object now, then every seal and removal; returns the unsubscribe. */
  subscribe(push: (event: ObjectEvent) => void): () => void;
}
