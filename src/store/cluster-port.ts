/**
 * What the store needs from a cluster, and what it offers to one. The store runs without a
 * cluster (single node); src/cluster implements ClusterPort when peers are configured.
 */
import type { Holder } from './object-table.js';
import type { Segment } from './segments.js';
import type { NativeRegion } from '../native/index.js';
import type { Logger } from '../util/log.js';

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
  /**
   * Bring peers' objects within reach of local clients (the remote-get policy, src/cluster):
   * waiting gets are woken as each arrives, or given up on if the owner cannot deliver.
   */
  resolve(keys: string[]): Promise<void>;
  /** A local object was removed: free its claim. */
  unclaim(key: string): void;
  /** Tell peers (their directories and waiting gets). */
  announceSealed(key: string, dataSize: number, metadataSize: number): void;
  announceRemoved(key: string): void;
}

/**
 * What the cluster may ask of the store: everything ClusterNode calls, and nothing else, so that
 * src/cluster never depends on the PlasmaStore class. PlasmaStore implements it.
 */
export interface ClusterStore {
  /** Register a mapped peer region as a new segment (ids never reused). */
  readonly segments: { register(fd: number, mapLength: number, node: string): Segment };
  /** Lookup from a peer: pin each sealed local object for that peer and say where it lies. */
  lookupForPeer(holder: PeerHolder, keys: readonly string[]): RemoteObject[];
  unpinForPeer(holder: PeerHolder, keys: readonly string[]): void;
  /** A peer's lease expired or it left: drop every pin it held. */
  expirePeer(holder: PeerHolder): void;
  /** Copy transport, owner side: the bytes, pinned until `done`. */
  readForPeer(holder: PeerHolder, key: string): { data: Uint8Array; metadata: Uint8Array; digest: Uint8Array; done(): void } | null;
  /** Sealed objects owned here. */
  ownedSealed(): Iterable<{ readonly key: string; readonly id: { readonly bytes: Uint8Array }; readonly dataSize: number; readonly metadataSize: number }>;
  /** A peer went down or left: waiting gets stop waiting for keys that now cannot appear. */
  peerDown(): void;
  /** A peer announced a seal: wake gets waiting for it here. */
  remoteSealed(key: string): void;
  /** Another node holds this id (found on rejoin): drop the local object. */
  dropDuplicate(key: string): void;
  stats(): { objects: number; allocated: number; capacity: number; clients: number };
  // Remote gets (the policy lives in src/cluster/remote-gets.ts):
  /** An object of this id is here already (local, proxy or replica). */
  has(key: string): boolean;
  /** Shared transport: a proxy over the owner's region; false if the id is here already (unpin it). */
  adoptProxy(remote: RemoteObject, segment: Segment): boolean;
  /** Copy transport: memory for a replica (null: here already, or no room). */
  allocateReplica(key: string, node: string, dataSize: number, metadataSize: number): Uint8Array | null;
  dropReplica(key: string): void;
  sealReplica(key: string, digest: Uint8Array): void;
  /** Waiting gets answer null for these keys. */
  giveUp(keys: readonly string[]): void;
}

/**
 * live: a member, grants and seals; fenced: cut off from the membership (no claims, no creates,
 * no seals); rejoining: registered again, re-claiming its sealed objects before it announces them.
 */
export type NodeState = 'live' | 'fenced' | 'rejoining';

/** Numbers for status and metrics (docs/cluster.md, fencing). */
export interface ClusterCounters {
  /** Claims this node granted as home. */
  claimsGranted: number;
  /** Claims refused because another node holds the id. */
  claimsDenied: number;
  /** Claims answered "retry" (this home fenced, or a membership change not settled yet). */
  claimsRetried: number;
  /** Claims of this node that found no home answer in time (the create failed closed). */
  claimsUnreachable: number;
  /** Creates refused because this node was fenced. */
  createsRefusedFenced: number;
  /** Seals refused because this node was fenced after the claim. */
  sealsRefusedFenced: number;
  /** Ids found held by two nodes (a rejoin that lost its re-claim, or an inconsistent hold). */
  duplicateIds: number;
  /** Sealed objects re-claimed successfully on rejoin / dropped because another node held the id. */
  reclaimed: number;
  reclaimLost: number;
}

/** What `health()` reports (status reply `membership`, metrics). */
export interface ClusterHealth extends ClusterCounters {
  dynamic: boolean;
  state: NodeState;
  live: boolean;
  revision: number;
  viewId: string;
  members: number;
  fencedMs: number;
  fences: number;
}

/** One peer as status output shows it. */
export interface PeerState {
  node: string;
  address: string;
  connected: boolean;
  transport: string;
}

/**
 * A cluster the store runs with (src/cluster's ClusterNode, built by the composition root in
 * src/node): the store starts it, hands it to the data path and reports it.
 */
export interface AttachedCluster extends ClusterPort {
  start(): Promise<void>;
  readonly grpcAddress: string;
  peerStates(): PeerState[];
  health(): ClusterHealth;
  close(): Promise<void>;
}

/** What the composition root needs to build a cluster around a store. */
export interface ClusterParts {
  store: ClusterStore;
  region: NativeRegion;
  socketPath: string;
  /** Where peers open this store's region (the fd path of an unlinked region file). */
  regionAttachPath: string;
  log: Logger;
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
