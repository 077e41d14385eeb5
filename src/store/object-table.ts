/**
 * The object table: what the store knows about each id (docs/protocol.md §3).
 */
import type { ObjectId } from '../protocol/object-id.js';
import type { ClaimResult } from './cluster-port.js';
import type { Segment } from './segments.js';

/** created: writable by its creator; sealed: immutable and visible; evicted: bytes live in the external store. */
export type ObjectState = 'created' | 'sealed' | 'evicted';

/** Anything that can pin an object: a local client session or a remote store's lease. */
export interface Holder {
  readonly label: string;
}

export interface StoredObject {
  readonly id: ObjectId;
  readonly key: string;
  state: ObjectState;
  /** Offset of the data in the region (file offset); -1 while evicted. */
  offset: number;
  readonly dataSize: number;
  readonly metadataSize: number;
  /** Unix seconds. */
  readonly createTime: number;
  /** Seconds from create to seal; -1 until sealed. */
  constructDuration: number;
  /**
   * 8 bytes once sealed, empty before. Empty here too while the object is published: the data
   * plane's record holds it (PlasmaStore.digestOf), so that no typed array is kept per object.
   */
  digest: Uint8Array;
  /**
   * Holders other than local clients on published objects (whose pins live in the data plane):
   * peers' leases, and the creator of an unpublished object. Null until the first one.
   */
  holders: Set<Holder> | null;
  /** The session that created it, while unsealed (aborted if it disconnects). */
  creator: Holder | null;
  /** Delete requested while in use or unsealed: delete on the last release (§3.8). */
  deletePending: boolean;
  /** Whether the eviction policy currently counts it as accessed (pinned). */
  accessed: boolean;
  /** Sealed and local: the native data plane has its record and its clients' pins (docs/object-table.md). */
  published?: boolean;
  /** Set for a peer's object that this store's clients read in place (shared transport). */
  remote?: { node: string; segment: Segment };
  /** Set for a local copy of a peer's object (copy transport): the peer still owns the id. */
  replicaOf?: string;
  /** Its record in the region's crash-recovery index (region-index.ts), while it has one. */
  indexSlot?: number;
  /** The id's claim at its home node, while it is being settled (cluster only). */
  claim?: Promise<ClaimResult> | null;
}

export function objectBytes(object: StoredObject): number {
  return object.dataSize + object.metadataSize;
}

export class ObjectTable {
  private readonly objects = new Map<string, StoredObject>();

  get size(): number {
    return this.objects.size;
  }

  get(key: string): StoredObject | undefined {
    return this.objects.get(key);
  }

  add(object: StoredObject): void {
    this.objects.set(object.key, object);
  }

  remove(key: string): void {
    this.objects.delete(key);
  }

  values(): IterableIterator<StoredObject> {
    return this.objects.values();
  }
}
