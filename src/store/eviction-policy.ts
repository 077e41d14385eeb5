/**
 * Which objects may be evicted, and in what order: one global LRU plus a private LRU per client
 * that set a quota (docs/protocol.md §9, §10). The policy decides; the store frees memory.
 *
 * Objects are tracked by key (the id's hex). An object is in an LRU only while it is evictable,
 * except quota-owned objects, which stay in their owner's LRU and are marked "shared for read"
 * while pinned, as the reference store does.
 */
import { LruCache } from './lru-cache.js';

/** The global LRU must keep at least this fraction of the original capacity (§10.1). */
const GLOBAL_RESERVE_FRACTION = 0.3;

export interface EvictionChoice {
  ok: boolean;
  keys: string[];
}

export class EvictionPolicy<Client> {
  readonly global: LruCache;
  private readonly perClient = new Map<Client, LruCache>();
  private readonly ownedBy = new Map<string, Client>();
  private readonly sharedForRead = new Set<string>();
  private pinnedBytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly sizeOf: (key: string) => number,
  ) {
    this.global = new LruCache('global lru', capacity);
  }

  get clientsWithQuota(): number {
    return this.perClient.size;
  }

  private hasQuota(client: Client | null, isCreate: boolean): client is Client {
    return isCreate && client !== null && this.perClient.has(client);
  }

  /** A new object: quota clients own theirs in their private LRU; others go to the global one. */
  objectCreated(key: string, client: Client | null, isCreate: boolean): void {
    if (this.hasQuota(client, isCreate)) {
      this.perClient.get(client)!.add(key, this.sizeOf(key));
      this.ownedBy.set(key, client);
    } else {
      this.global.add(key, this.sizeOf(key));
    }
  }

  /** The object got its first holder: it is no longer evictable. */
  beginAccess(key: string): void {
    if (this.ownedBy.has(key)) {
      if (!this.sharedForRead.has(key)) {
        this.sharedForRead.add(key);
        this.pinnedBytes += this.sizeOf(key);
      }
      return;
    }
    this.global.remove(key);
  }

  /** The object lost its last holder: evictable again, at the most-recently-used end. */
  endAccess(key: string): void {
    if (this.ownedBy.has(key)) {
      if (this.sharedForRead.delete(key)) this.pinnedBytes -= this.sizeOf(key);
      return;
    }
    this.global.add(key, this.sizeOf(key));
  }

  /** Forget an object that is gone (deleted, evicted, aborted). */
  removeObject(key: string): void {
    const owner = this.ownedBy.get(key);
    if (owner !== undefined) {
      this.perClient.get(owner)?.remove(key);
      this.ownedBy.delete(key);
      if (this.sharedForRead.delete(key)) this.pinnedBytes -= this.sizeOf(key);
      return;
    }
    this.global.remove(key);
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
      this.ownedBy.delete(key);
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
    const { keys, bytes } = this.global.chooseToEvict(toFree);
    return { ok: bytes >= required && bytes > 0, keys };
  }

  /** Evict request: least recently used first until `bytes` are covered. */
  chooseToEvict(bytes: number): string[] {
    return this.global.chooseToEvict(bytes).keys;
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
      if (!this.sharedForRead.has(key)) this.global.add(key, this.sizeOf(key));
      this.ownedBy.delete(key);
      if (this.sharedForRead.delete(key)) this.pinnedBytes -= this.sizeOf(key);
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
