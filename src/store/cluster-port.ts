/**
 * What the store needs from a cluster, and what it offers to one. The store runs without a
 * cluster (single node); src/cluster implements ClusterPort when peers are configured.
 */
import type { Holder } from './object-table.js';
import type { Segment } from './segments.js';

/** A sealed object that lives in a peer's region, pinned there for this store. */
export interface RemoteObject {
  key: string;
  node: string;
  offset: number;
  dataSize: number;
  metadataSize: number;
  digest: Uint8Array;
}

/** A peer object's bytes copied here (copy transport), verified. */
export interface FetchedObject {
  key: string;
  dataSize: number;
  metadataSize: number;
  digest: Uint8Array;
}

export type ClaimResult = 'granted' | 'denied' | 'unreachable';

export interface ClusterPort {
  /** The peer that announced this key sealed, if any (no network). */
  locate(key: string): string | undefined;
  /**
   * Nothing can bring this key here now (its owner or its home node is down): a get should not
   * wait for it.
   */
  unavailable(key: string): boolean;
  /** The segment of a peer's region, if it can be mapped from here (shared transport). */
  segmentOf(node: string): Segment | undefined;
  /** Pin keys at their owner: one round trip per node; keys no longer there are left out. */
  lookup(node: string, keys: string[]): Promise<RemoteObject[]>;
  /**
   * Copy transport: stream the object into memory the store allocates; resolves once the bytes
   * are written and verified, null if the owner no longer has it.
   */
  fetch(node: string, key: string, allocate: (dataSize: number, metadataSize: number) => Uint8Array | null): Promise<FetchedObject | null>;
  /** This store's clients no longer hold these keys. */
  unpin(node: string, keys: string[]): void;
  /** Claim an id for a new local object at its home node (docs/cluster.md, id claims). */
  claim(key: string): ClaimResult | Promise<ClaimResult>;
  /** New objects may be created now (false while this node is fenced from the membership). */
  acceptsCreates(): boolean;
  /** At seal time: the claim on this id is still certainly this node's. */
  maySeal(key: string): boolean;
  /** A local object was removed: free its claim. */
  unclaim(key: string): void;
  /** Tell peers (their directories and waiting gets). */
  announceSealed(key: string, dataSize: number, metadataSize: number): void;
  announceRemoved(key: string): void;
}

/** A peer store holding pins here for its clients, under a lease. */
export class PeerHolder implements Holder {
  readonly label: string;
  /** Keys this peer has pinned here. */
  readonly keys = new Set<string>();
  expiresAt = 0;

  constructor(readonly node: string) {
    this.label = `peer:${node}`;
  }
}
