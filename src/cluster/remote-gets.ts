/**
 * The remote-get policy: how a get for ids sealed on peers is served. One lookup per owner for
 * all its ids (which pins them there), then a proxy over the owner's region where it can be mapped
 * (shared transport, no copy), else a verified local replica per object (copy transport). An owner
 * that announced objects but cannot deliver them makes the waiting gets give up at once rather than
 * wait out their timeout. The store provides the mechanisms (ClusterStore: proxies, replicas,
 * waking and giving up gets).
 */
import type { ClusterStore, FetchedObject, RemoteObject } from '../store/cluster-port.js';
import type { Segment } from '../store/segments.js';
import type { Logger } from '../util/log.js';

/** What the policy needs from the cluster side. */
export interface RemoteSource {
  locate(key: string): string | undefined;
  segmentOf(node: string): Segment | undefined;
  lookup(node: string, keys: string[]): Promise<RemoteObject[]>;
  fetch(node: string, key: string, allocate: (dataSize: number, metadataSize: number) => Uint8Array | null): Promise<FetchedObject | null>;
  unpin(node: string, keys: string[]): void;
}

export class RemoteGets {
  /** Keys being brought here now: a second get for one waits for the same delivery. */
  private readonly inFlight = new Set<string>();

  constructor(
    private readonly source: RemoteSource,
    private readonly store: ClusterStore,
    private readonly log: Logger,
  ) {}

  async resolve(keys: string[]): Promise<void> {
    const byNode = new Map<string, string[]>();
    for (const key of keys) {
      const node = this.source.locate(key);
      if (!node || this.inFlight.has(key) || this.store.has(key)) continue;
      this.inFlight.add(key);
      let list = byNode.get(node);
      if (!list) byNode.set(node, (list = []));
      list.push(key);
    }
    await Promise.all(
      [...byNode].map(async ([node, nodeKeys]) => {
        try {
          if (this.source.segmentOf(node)) await this.lookupShared(node, nodeKeys);
          else await Promise.all(nodeKeys.map((key) => this.fetchCopy(node, key)));
        } catch (error) {
          this.log.warn('cannot reach peer for a get', { node, error: (error as Error).message });
          // The peer announced them but cannot deliver: do not make clients wait out their timeout.
          this.store.giveUp(nodeKeys.filter((key) => !this.store.has(key)));
        } finally {
          for (const key of nodeKeys) this.inFlight.delete(key);
        }
      }),
    );
  }

  private async lookupShared(node: string, keys: string[]): Promise<void> {
    const found = await this.source.lookup(node, keys);
    const segment = this.source.segmentOf(node);
    for (const remote of found) {
      if (!segment || !this.store.adoptProxy(remote, segment)) this.source.unpin(node, [remote.key]);
    }
  }

  private async fetchCopy(node: string, key: string): Promise<void> {
    let allocated = false;
    const fetched = await this.source
      .fetch(node, key, (dataSize, metadataSize) => {
        const target = this.store.allocateReplica(key, node, dataSize, metadataSize);
        allocated = target !== null;
        return target;
      })
      .catch((error: unknown) => {
        // A failed copy (owner gone, corrupt bytes) must not leave a half-made replica behind.
        if (allocated) this.store.dropReplica(key);
        throw error;
      });
    if (!allocated) return;
    if (!fetched) this.store.dropReplica(key);
    else this.store.sealReplica(key, fetched.digest);
  }
}
