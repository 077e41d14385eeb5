/**
 * External stores (`-e ENDPOINT`): where evicted objects go instead of being deleted, to be restored
 * transparently on Get (docs/protocol.md §3.6, §9). Synchronous on purpose: the store is one event
 * loop and an eviction must be complete before the memory it frees is reused.
 */
export interface SpilledObject {
  data: Uint8Array;
  metadata: Uint8Array;
  digest: Uint8Array;
}

/** What an external store holds for one object, without its bytes. */
export interface SpilledEntry {
  key: string;
  dataSize: number;
  metadataSize: number;
  digest: Uint8Array;
}

export interface ExternalStore {
  readonly endpoint: string;
  /** Objects kept from an earlier run of the store (persistent stores only; read at start). */
  list(): SpilledEntry[];
  /** Write an object's bytes; they are copied before this returns. */
  put(key: string, object: SpilledObject): void;
  /** Read it back, verified; throws if the stored bytes do not match their checksum. */
  get(key: string): SpilledObject | undefined;
  delete(key: string): void;
  /** Let go of resources; what a persistent store holds stays for the next run. */
  close(): void;
}
