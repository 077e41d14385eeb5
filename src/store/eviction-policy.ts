/**
 * Which objects may be evicted, and in what order: one global LRU plus a private LRU per client
 * that set a quota (docs/protocol.md §9, §10). The policy decides; the store frees memory.
 *
 * Objects are tracked by key (the id's hex). An object is in an LRU only while it is evictable,
 * except quota-owned objects, which stay in their owner's LRU and are marked "shared for read"
 * while pinned, as the reference store does. The global LRU's order is kept by the native object
 * table (it changes on every Get and Release, natively); this policy keeps the per-client LRUs
 * and tells the table which objects a quota owns.
 */
import { LruCache, NativeLru, type NativeLruSource } from './lru-cache.js';

/** The global LRU must keep at least this fraction of the original capacity (§10.1). */
const GLOBAL_RESERVE_FRACTION = 0.3;

export interface EvictionChoice {
  ok: boolean;
  keys: string[];
}

/** The native table's side: the global LRU's order, and which objects it must leave out of it. */
export interface GlobalLruTable extends NativeLruSource {
  /** Quota-owned objects stay out of the global LRU; released from the quota, they join it when unpinned. */
  setQuotaOwned(key: string, owned: boolean): void;
}

export class EvictionPolicy<Client> {
  readonly global: NativeLru;
  private readonly perClient = new Map<Client, LruCache>();
  private readonly ownedBy = new Map<string, Client>();
  private readonly sharedForRead = new Set<string>();
  private pinnedBytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly sizeOf: (key: string) => number,
    private readonly table: GlobalLruTable,
  ) {
    this.global = new NativeLru('global lru', capacity, table);
  }

  get clientsWithQuota(): number {
    return this.perClient.size;
  }

  private hasQuota(client: Client | null, isCreate: boolean): client is Client {
    return isCreate && client !== null && this.perClient.has(client);
  }

  /**
   * A new object (already in the native table): quota clients own theirs in their private LRU;
   * the others are the global LRU's, which the native table fills as they become evictable.
   */
  objectCreated(key: string, client: Client | null, isCreate: boolean): void {
    if (!this.hasQuota(client, isCreate)) return;
    this.perClient.get(client)!.add(key, this.sizeOf(key));
    this.ownedBy.set(key, client);
    this.table.setQuotaOwned(key, true);
  }

  /** The object got its first holder: a quota-owned one is "shared for read" (the native table handles the rest). */
  beginAccess(key: string): void {
    if (this.ownedBy.has(key) && !this.sharedForRead.has(key)) {
      this.sharedForRead.add(key);
      this.pinnedBytes += this.sizeOf(key);
    }
  }

  /** The object lost its last holder. */
  endAccess(key: string): void {
    if (this.ownedBy.has(key) && this.sharedForRead.delete(key)) this.pinnedBytes -= this.sizeOf(key);
  }

  /** Forget an object that is gone (deleted, evicted, aborted); its native record leaves the global LRU with it. */
  removeObject(key: string): void {
    const owner = this.ownedBy.get(key);
    if (owner === undefined) return;
    this.perClient.get(owner)?.remove(key);
    this.ownedBy.delete(key);
    if (this.sharedForRead.delete(key)) this.pinnedBytes -= this.sizeOf(key);
  }

  /** The quota no longer owns it: the global LRU does, from its last release on. */
  private disown(key: string): void {
    this.ownedBy.delete(key);
    this.table.setQuotaOwned(key, false);
  }

  /** SetOptions: reserve a quota for a client; false if it has one or the global LRU would drop below 30 %. */
  setClientQuota(client: Client, name: string, quota: number): boolean {
    if (this.perClient.has(client)) return false;
    if (this.global.capacity - quota < this.global.originalCapacity * GLOBAL_RESERVE_FRACTION) return false;
    this.global.adjustCapacity(-quota);
    this.perClient.set(client, new LruCache(name, quota));
    return true;
  }

  /**
   * Before a quota client creates `size` bytes: make room in its private LRU. Pinned candidates are
   * demoted to the global LRU (they go there on their last release) instead of being evicted.
   */
  enforcePerClientQuota(client: Client | null, size: number, isCreate: boolean): EvictionChoice {
    if (!this.hasQuota(client, isCreate)) return { ok: true, keys: [] };
    const cache = this.perClient.get(client)!;
    if (size > cache.capacity) return { ok: false, keys: [] };
    if (cache.remaining >= size) return { ok: true, keys: [] };
    const candidates = cache.chooseToEvict(size - cache.remaining).keys;
    const keys: string[] = [];
    for (const key of candidates) {
      if (this.sharedForRead.has(key)) {
        this.sharedForRead.delete(key);
        this.pinnedBytes -= this.sizeOf(key);
      } else {
        keys.push(key);
      }
      this.disown(key);
    }
    return { ok: true, keys };
  }

  /**
   * Allocation failed: choose what to evict from the global LRU. Ask for at least 20 % of capacity
   * (§9); succeed only if that covers what is required and frees something.
   */
  requireSpace(size: number, allocated: number): EvictionChoice {
    const required = allocated + size - this.capacity;
    const toFree = Math.max(required, Math.floor(this.capacity / 5));
    const { keys, bytes } = this.global.chooseToEvict(toFree, this.sizeOf);
    return { ok: bytes >= required && bytes > 0, keys };
  }

  /** Evict request: least recently used first until `bytes` are covered. */
  chooseToEvict(bytes: number): string[] {
    return this.global.chooseToEvict(bytes, this.sizeOf).keys;
  }

  /** RefreshLRU: move to the most-recently-used end of whichever LRU holds it. */
  refresh(key: string): void {
    const owner = this.ownedBy.get(key);
    if (owner !== undefined) this.perClient.get(owner)?.touch(key);
    else this.global.touch(key);
  }

  /** On disconnect the quota returns to the global LRU, and so do the client's objects. */
  clientDisconnected(client: Client): void {
    const cache = this.perClient.get(client);
    if (!cache) return;
    this.global.adjustCapacity(cache.capacity);
    for (const key of [...cache.keys()]) {
      if (this.sharedForRead.delete(key)) this.pinnedBytes -= this.sizeOf(key);
      this.disown(key); // unpinned: into the global LRU now; pinned: on its last release
    }
    this.perClient.delete(client);
  }

  /** The reference store's debug string (§10.2); the C++ quota tests search it. */
  debugString(allocated: number): string {
    let text =
      `num clients with quota: ${this.perClient.size}` +
      `\nquota map size: ${this.ownedBy.size}` +
      `\npinned quota map size: ${this.sharedForRead.size}` +
      `\nallocated bytes: ${allocated}` +
      `\nallocation limit: ${this.capacity}` +
      `\npinned bytes: ${this.pinnedBytes}`;
    text += this.global.debugString();
    for (const cache of this.perClient.values()) text += cache.debugString();
    return text;
  }
}
