/**
 * Running totals of what a store has done: evictions, spills, remote gets, lease expiries, claim
 * conflicts, requests by type. The store counts at a few points and owns nothing else here; the
 * admin query (`plasmapool stat`) and the Prometheus exporter only read these numbers, so the
 * store never depends on either of them.
 */

/** Called once per handled request (the exporter feeds its latency histogram from it). */
export type RequestObserver = (kind: string, seconds: number) => void;

export type RemoteTransport = 'shared' | 'copy';

export class StoreStats {
  private ownEvictions = 0;
  private ownEvictedBytes = 0;
  /** Evictions the native data plane carried out itself (a create that needed room), counted there. */
  private nativeEvictions: () => readonly [number, number] = () => [0, 0];
  /** Objects written to the external store on eviction. */
  spills = 0;
  spilledBytes = 0;
  /** Objects read back from the external store. */
  restores = 0;
  /** Remote objects brought within reach of local clients, by transport. */
  readonly remoteGets: Record<RemoteTransport, number> = { shared: 0, copy: 0 };
  /** Bytes streamed into this store by the copy transport. */
  copiedBytes = 0;
  /** Peer leases that ran out (the peer died or was cut off). */
  leaseExpiries = 0;
  /** New objects aborted because another node already held their id. */
  claimConflicts = 0;
  /** Handled requests by kind. */
  readonly requests = new Map<string, number>();
  private readonly observers: RequestObserver[] = [];

  /** Objects evicted from memory (deleted, or spilled when there is an external store). */
  get evictions(): number {
    return this.ownEvictions + this.nativeEvictions()[0];
  }

  get evictedBytes(): number {
    return this.ownEvictedBytes + this.nativeEvictions()[1];
  }

  /** Where the evictions done without TypeScript are counted: [objects, bytes]. */
  countNativeEvictions(source: () => readonly [number, number]): void {
    this.nativeEvictions = source;
  }

  evicted(bytes: number, spilled: boolean): void {
    this.ownEvictions++;
    this.ownEvictedBytes += bytes;
    if (spilled) {
      this.spills++;
      this.spilledBytes += bytes;
    }
  }

  remoteGet(transport: RemoteTransport, count: number, bytes = 0): void {
    this.remoteGets[transport] += count;
    if (transport === 'copy') this.copiedBytes += bytes;
  }

  /** One request handled; `startNs` from process.hrtime.bigint() when it arrived. */
  request(kind: string, startNs: bigint): void {
    this.requests.set(kind, (this.requests.get(kind) ?? 0) + 1);
    if (this.observers.length === 0) return;
    const seconds = Number(process.hrtime.bigint() - startNs) / 1e9;
    for (const observe of this.observers) observe(kind, seconds);
  }

  onRequest(observer: RequestObserver): void {
    this.observers.push(observer);
  }
}
