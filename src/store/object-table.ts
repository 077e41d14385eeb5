/**
 * The object table: what the store knows about each id (docs/protocol.md §3). Two owners, one
 * lookup (docs/object-table.md §1, §7): a local object's record lives in the native data plane,
 * and for a sealed one that is all there is; TypeScript keeps an entry only where the control
 * plane needs one (an unsealed object it created, an evicted object, a peer's object, a replica).
 * `get` answers from either: TypeScript's entry first, else a fresh view of the native record,
 * whose changes go through the data plane.
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
   * Holders of an unpublished object (a peer's object read here); for a published object, the
   * holders other than local clients (peers' leases: the data plane counts them, TypeScript keeps
   * their names). Null until the first one.
   */
  holders: Set<Holder> | null;
  /** The session that created it, while unsealed (aborted if it disconnects). */
  creator: Holder | null;
  /** Delete requested while in use or unsealed: delete on the last release (§3.8). */
  deletePending: boolean;
  /**
   * The native data plane has its record (docs/object-table.md): its pins, LRU place, digest,
   * delete-pending flag live there. Views of native records always have it.
   */
  published?: boolean;
  /** Set for a peer's object that this store's clients read in place (shared transport). */
  remote?: { node: string; segment: Segment };
  /** Set for a local copy of a peer's object (copy transport): the peer still owns the id. */
  replicaOf?: string;
  /** The id's claim at its home node, while it is being settled (cluster only). */
  claim?: Promise<ClaimResult> | null;
}

export function objectBytes(object: StoredObject): number {
  return object.dataSize + object.metadataSize;
}

/** The native side of the table: views of its records (PlasmaStore builds them). */
export interface NativeObjects {
  /** A view of the record with this key, or undefined. */
  view(key: string): StoredObject | undefined;
  /** Views of every record, except those `skip` says TypeScript has an entry for. */
  views(skip: (key: string) => boolean): Iterable<StoredObject>;
  /** Records in the native table. */
  readonly count: number;
}

export class ObjectTable {
  /** TypeScript's own entries (few: see above). */
  private readonly own = new Map<string, StoredObject>();

  constructor(private readonly native: NativeObjects | null = null) {}

  /** Every object known here, counted once. */
  get size(): number {
    let unpublished = 0;
    for (const object of this.own.values()) if (!object.published) unpublished++;
    return unpublished + (this.native?.count ?? 0);
  }

  get(key: string): StoredObject | undefined {
    return this.own.get(key) ?? this.native?.view(key);
  }

  /** TypeScript's own entry only. */
  entry(key: string): StoredObject | undefined {
    return this.own.get(key);
  }

  add(object: StoredObject): void {
    this.own.set(object.key, object);
  }

  /** Drop TypeScript's entry (the native record, if any, is the data plane's to withdraw). */
  remove(key: string): void {
    this.own.delete(key);
  }

  /** TypeScript's own entries only. */
  entries(): IterableIterator<StoredObject> {
    return this.own.values();
  }

  *values(): IterableIterator<StoredObject> {
    yield* this.own.values();
    if (this.native) yield* this.native.views((key) => this.own.has(key));
  }
}
