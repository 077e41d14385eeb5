/**
 * An LRU list of evictable objects with a byte capacity, as the reference store keeps one globally
 * and one per client with a quota (docs/protocol.md §9, §10). It only orders and counts: freeing
 * memory is the store's job.
 */
/** What every LRU of the policy counts: its capacity (quotas move bytes in and out) and evictions. */
abstract class LruAccounting {
  private capacityBytes: number;
  evictions = 0;
  bytesEvicted = 0;

  constructor(
    readonly name: string,
    readonly originalCapacity: number,
  ) {
    this.capacityBytes = originalCapacity;
  }

  /** Bytes of the objects in the list. */
  protected abstract get usedBytes(): number;
  abstract get size(): number;

  get capacity(): number {
    return this.capacityBytes;
  }

  get remaining(): number {
    return this.capacityBytes - this.usedBytes;
  }

  adjustCapacity(delta: number): void {
    this.capacityBytes += delta;
  }

  /** Evictions from this list so far: objects and bytes. */
  protected evictionTotals(): readonly [number, number] {
    return [this.evictions, this.bytesEvicted];
  }

  /** The reference store's debug lines for this cache (§10.2). */
  debugString(): string {
    const used = 100 * (1 - this.remaining / this.originalCapacity);
    const [evictions, bytesEvicted] = this.evictionTotals();
    return (
      `\n(${this.name}) capacity: ${this.capacity}` +
      `\n(${this.name}) used: ${formatLikeCppStream(used)}%` +
      `\n(${this.name}) num objects: ${this.size}` +
      `\n(${this.name}) num evictions: ${evictions}` +
      `\n(${this.name}) bytes evicted: ${bytesEvicted}`
    );
  }
}

export class LruCache extends LruAccounting {
  /** Insertion order is recency: the first key is the least recently used. */
  private readonly items = new Map<string, number>();
  private bytes = 0;

  protected get usedBytes(): number {
    return this.bytes;
  }

  get size(): number {
    return this.items.size;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  /** Insert at the most-recently-used end (re-inserting moves it there). */
  add(key: string, bytes: number): void {
    this.remove(key);
    this.items.set(key, bytes);
    this.bytes += bytes;
  }

  remove(key: string): boolean {
    const bytes = this.items.get(key);
    if (bytes === undefined) return false;
    this.items.delete(key);
    this.bytes -= bytes;
    return true;
  }

  /** Move to the most-recently-used end if present (RefreshLRU). */
  touch(key: string): void {
    const bytes = this.items.get(key);
    if (bytes !== undefined) this.add(key, bytes);
  }

  /**
   * Pick objects from the least-recently-used end until at least `bytesRequired` are covered,
   * removing them from the list. Zero-size objects are picked too and count 0 bytes (§3.11).
   */
  chooseToEvict(bytesRequired: number): { keys: string[]; bytes: number } {
    const keys: string[] = [];
    let bytes = 0;
    for (const [key, size] of this.items) {
      if (bytes >= bytesRequired) break;
      keys.push(key);
      bytes += size;
    }
    for (const key of keys) this.remove(key);
    this.evictions += keys.length;
    this.bytesEvicted += bytes;
    return { keys, bytes };
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }
}

/** What the global LRU needs of the native object table that keeps its order. */
export interface NativeLruSource {
  lruTouch(id: Uint8Array): void;
  lruChoose(bytes: number): Buffer;
  readonly lruCount: number;
  readonly lruBytes: number;
  /** [objects, bytes] the data plane evicted from the list itself, for a create that needed room. */
  readonly evictedNatively: readonly [number, number];
}

/**
 * The global LRU, whose order is kept by the native object table: an intrusive list through the
 * records, updated by native Get/Release/Seal without entering JavaScript (docs/object-table.md
 * §7). Here: its capacity (quotas move bytes in and out of it) and its eviction counters.
 */
export class NativeLru extends LruAccounting {
  constructor(
    name: string,
    originalCapacity: number,
    private readonly source: NativeLruSource,
  ) {
    super(name, originalCapacity);
  }

  protected get usedBytes(): number {
    return this.source.lruBytes;
  }

  get size(): number {
    return this.source.lruCount;
  }

  /** RefreshLRU: to the most-recently-used end if present. */
  touch(key: string): void {
    this.source.lruTouch(Buffer.from(key, 'hex'));
  }

  /** As LruCache.chooseToEvict: least recently used first; the chosen leave the list. */
  chooseToEvict(bytesRequired: number, sizeOf: (key: string) => number): { keys: string[]; bytes: number } {
    const ids = this.source.lruChoose(bytesRequired);
    const keys: string[] = [];
    let bytes = 0;
    for (let at = 0; at + 20 <= ids.length; at += 20) {
      const key = ids.toString('hex', at, at + 20);
      keys.push(key);
      bytes += sizeOf(key);
    }
    this.evictions += keys.length;
    this.bytesEvicted += bytes;
    return { keys, bytes };
  }

  /** Chosen here for TypeScript, plus those the data plane evicted on its own. */
  protected override evictionTotals(): readonly [number, number] {
    const [objects, bytes] = this.source.evictedNatively;
    return [this.evictions + objects, this.bytesEvicted + bytes];
  }
}

/** C++ ostream default formatting of a double: 6 significant digits, no trailing zeros. */
export function formatLikeCppStream(value: number): string {
  if (value === 0) return '0';
  const text = Number(value.toPrecision(6)).toString();
  return text.includes('e') ? value.toPrecision(6) : text;
}
