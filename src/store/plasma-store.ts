/**
 * The store's state machine: the object table, the Plasma request handlers, waiting gets,
 * notifications and eviction (docs/protocol.md §3, §5, §8, §9). It never touches a socket directly:
 * requests arrive decoded, replies leave through the session.
 */
import { RecordFlag, type NativeAllocator, type NativeChannel, type NativeDataPlane, type NativeRecordInfo, type NativeRegion } from '../native/index.js';
import { DataPlaneEvent, forEachDataPlaneEvent, type DataPlaneEventView } from './data-plane-events.js';
import { native } from '../native/index.js';
import { PlasmaError, type ObjectInfo, type ObjectSpec, type ReplyErrorCode, type Request } from '../protocol/messages.js';
import { ObjectId } from '../protocol/object-id.js';
import type { Logger } from '../util/log.js';
import { EvictionPolicy } from './eviction-policy.js';
import type { ExternalStore, SpilledEntry } from './external/external-store.js';
import { deletionInfo, Notifier } from './notifier.js';
import { ObjectTable, objectBytes, type Holder, type StoredObject } from './object-table.js';
import { countRecords, nativeRecords } from './native-records.js';
import type { FoundRecord, RegionIndex } from './region-index.js';
import { PendingGet, PendingGets } from './pending-gets.js';
import { reportedMmapSize, SegmentRegistry, type Segment } from './segments.js';
import type { ClientSession } from './session.js';
import { PeerHolder, type ClusterPort, type RemoteObject } from './cluster-port.js';
import { StoreStats } from './store-stats.js';

export interface PlasmaStoreConfig {
  /** The -m capacity: what ConnectReply reports and what objects may use in total (§9). */
  capacity: number;
  region: NativeRegion;
  allocator: NativeAllocator;
  external: ExternalStore | null;
  /** The crash-recovery index of a named region: every sealed local object gets a record. */
  index?: RegionIndex | null;
  log: Logger;
}

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

const EMPTY_SPEC: ObjectSpec = {
  segmentIndex: 0,
  dataOffset: 0,
  dataSize: 0,
  metadataOffset: 0,
  metadataSize: 0,
  deviceNum: 0,
};

export class PlasmaStore {
  /** TypeScript's entries, and views of the native table's records (object-table.ts). */
  readonly objects: ObjectTable;
  readonly notifier: Notifier;
  readonly segments = new SegmentRegistry();
  readonly localSegment: Segment;
  /** Running totals for `plasmapool stat` and the metrics exporter. */
  readonly counters = new StoreStats();
  private readonly policy: EvictionPolicy<ClientSession>;
  private readonly pending = new PendingGets();
  private readonly capacity: number;
  private readonly region: NativeRegion;
  private readonly external: ExternalStore | null;
  private readonly index: RegionIndex | null;
  private readonly log: Logger;
  private cluster: ClusterPort | null = null;
  /** Connected clients (kept by the server). */
  clientCount = 0;
  /** Keys being looked up or fetched at peers, so concurrent gets share one round trip. */
  /**
   * The native data plane (docs/object-table.md): it owns the records of sealed local objects and
   * every local client's pins on them, and serves Get/Release/Contains of those natively.
   */
  private readonly dataPlane: NativeDataPlane;
  /** Sessions by their data plane client number (events name the client). */
  private readonly sessionsByClient = new Map<number, ClientSession>();
  /** Peers' leases on published objects, by key: the data plane counts them, these are their names. */
  private readonly hostHolders = new Map<string, Set<Holder>>();

  constructor(config: PlasmaStoreConfig) {
    this.capacity = config.capacity;
    this.region = config.region;
    this.external = config.external;
    this.index = config.index ?? null;
    this.log = config.log;
    this.notifier = new Notifier(config.log);
    this.localSegment = this.segments.register(config.region.fd, config.region.mapLength, config.region.nodeName);
    const dataPlane = native.createDataPlane(
      this.localSegment.id,
      reportedMmapSize(this.localSegment),
      config.allocator,
      config.capacity,
      config.region.mapping,
      (events) => this.applyDataPlaneEvents(events),
    );
    this.dataPlane = dataPlane;
    this.objects = new ObjectTable({
      view: (key) => {
        const id = ObjectId.fromHex(key);
        const record = dataPlane.lookup(id.bytes);
        return record ? this.viewOf(id, record) : undefined;
      },
      views: (skip) => this.recordViews(skip),
      get count() {
        return dataPlane.size;
      },
    });
    this.policy = new EvictionPolicy(
      config.capacity,
      (key) => {
        const object = this.objects.get(key);
        return object ? objectBytes(object) : 0;
      },
      {
        setQuotaOwned: (key, owned) => dataPlane.setQuotaOwned(Buffer.from(key, 'hex'), owned),
        lruTouch: (id) => dataPlane.lruTouch(id),
        lruChoose: (bytes) => dataPlane.lruChoose(bytes),
        get lruCount() {
          return dataPlane.lruCount;
        },
        get lruBytes() {
          return dataPlane.lruBytes;
        },
        get evictedNatively() {
          return dataPlane.evictedNatively;
        },
      },
    );
    this.counters.countNativeEvictions(() => dataPlane.evictedNatively);
    // The region's index is written natively, before each seal is acknowledged, by whichever
    // path sealed (docs/recovery.md).
    if (this.index) {
      const { indexOffset, indexSlots } = config.region;
      dataPlane.attachIndex(indexOffset, indexSlots, Uint32Array.from(this.index.freeSlotList()));
    }
    // Native creates need no judgement only without an external store: an evicted id lives there.
    this.dataPlane.setCreates(!config.external);
    // Deletes of in-memory objects need no external store.
    this.dataPlane.setDeletes(true);
    this.updatePromptSeals();
  }

  /** A new connection: its frames reach the native data plane first. */
  attachSession(session: ClientSession): void {
    session.attachDataPlane(this.dataPlane, this.dataPlane.addClient(session.channel), this.localSegment.id);
    this.sessionsByClient.set(session.dataPlaneClient, session);
  }

  /** Requests answered natively so far. */
  get nativeRequests(): number {
    return this.dataPlane.served;
  }

  // ---------------------------------------------------------------- native data plane events

  /**
   * Catch up with pins the data plane took or dropped on its own. Every entry point that reads
   * pin state or decides calls this first; native delivers batches before any channel callback.
   */
  private syncDataPlane(): void {
    const events = this.dataPlane.takeEvents();
    if (events) this.applyDataPlaneEvents(events);
  }

  private applyDataPlaneEvents(events: Buffer): void {
    forEachDataPlaneEvent(events, (event) => {
      switch (event.kind) {
        case DataPlaneEvent.Pinned:
          // A quota-owned object is "shared for read" now; kept in order even when the pin is
          // already gone again (the Unpinned event follows).
          return this.policy.beginAccess(event.key);
        case DataPlaneEvent.Unpinned: {
          const object = this.objects.get(event.key);
          if (object && this.pinCount(object) === 0) this.unpinned(object);
          return;
        }
        case DataPlaneEvent.Sealed:
          return this.sealedNatively(event);
        case DataPlaneEvent.IndexFull:
          return this.index?.reportFull();
      }
    });
  }

  /** The data plane sealed an object while someone may wait for it: notify and wake them. */
  private sealedNatively(event: DataPlaneEventView): void {
    const object = this.objects.get(event.key);
    if (!object || object.state !== 'sealed') return; // deleted meanwhile
    if (this.notifier.count > 0) {
      this.notifier.publish([{ ...this.sealInfo(object), digest: Uint8Array.from(event.digest) }]);
    }
    this.wakeGets(object);
  }

  /** A view of a native record (object-table.ts): a fresh object; changes go through the data plane. */
  private viewOf(id: ObjectId, record: NativeRecordInfo): StoredObject {
    const sealed = (record.flags & RecordFlag.Sealed) !== 0;
    return {
      id,
      key: id.hex,
      state: sealed ? 'sealed' : 'created',
      offset: record.offset,
      dataSize: record.dataSize,
      metadataSize: record.metadataSize,
      createTime: record.createTime,
      constructDuration: record.constructDuration,
      digest: NO_DIGEST,
      holders: this.hostHolders.get(id.hex) ?? null,
      creator: sealed ? null : (this.sessionsByClient.get(record.creator) ?? null),
      deletePending: (record.flags & RecordFlag.DeletePending) !== 0,
      published: true,
    };
  }

  /** Views of every native record TypeScript has no entry for. */
  private *recordViews(skip: (key: string) => boolean): IterableIterator<StoredObject> {
    for (const record of nativeRecords(this.dataPlane.records())) {
      if (skip(record.key)) continue;
      yield this.viewOf(ObjectId.fromBytes(record.id), record);
    }
  }

  /** Seals must reach TS at once while anyone may wait for one (subscribers, waiting gets). */
  private updatePromptSeals(): void {
    this.dataPlane.setPromptSeals(this.notifier.count > 0 || this.pending.size > 0);
  }

  /**
   * The object is sealed and local: the data plane serves it, holds its pins and its LRU place.
   * Only a replica keeps a TypeScript entry (which peer owns it); for others the record is all.
   */
  private publish(object: StoredObject, digest: Uint8Array): void {
    // A replica is not ours to bring back after a crash; everything else gets its index record.
    const flags =
      (object.deletePending ? RecordFlag.DeletePending : 0) |
      (object.replicaOf ? RecordFlag.TsEntry : RecordFlag.Indexed);
    this.dataPlane.publish(
      object.id.bytes, object.offset, object.dataSize, object.metadataSize, digest, true, 0,
      object.createTime, object.constructDuration, flags,
    );
    object.published = true;
    object.digest = NO_DIGEST; // the record keeps it
    const holders = object.holders;
    object.holders = null;
    for (const holder of holders ?? []) {
      if (isSession(holder)) holder.held.delete(object.key);
      this.pin(object, holder);
    }
    if (!object.replicaOf) this.objects.remove(object.key);
  }

  private unpublish(object: StoredObject): void {
    if (!object.published) return;
    this.dataPlane.unpublish(object.id.bytes);
    this.hostHolders.delete(object.key);
    object.holders = null;
    object.published = false;
  }

  /** Whether this client holds a reference to the object. */
  private holds(object: StoredObject, session: ClientSession): boolean {
    return object.published
      ? this.dataPlane.holds(object.id.bytes, session.dataPlaneClient)
      : (object.holders?.has(session) ?? false);
  }

  /** The 8-byte digest of a sealed object, wherever it is kept; empty while unsealed. */
  private digestOf(object: StoredObject): Uint8Array {
    if (object.state === 'created') return NO_DIGEST;
    return object.published ? (this.dataPlane.digest(object.id.bytes) ?? NO_DIGEST) : object.digest;
  }

  /** Sum of data + metadata sizes of every allocated object (§9: exact, no rounding); kept natively. */
  get allocated(): number {
    return this.dataPlane.allocated;
  }

  /** Join a cluster: misses are resolved at peers, ids are claimed at their home node. */
  attachCluster(cluster: ClusterPort): void {
    this.cluster = cluster;
    // Every create is claimed at the id's home node, and every seal settles that claim.
    this.dataPlane.setCreates(false);
    this.dataPlane.setDeletes(false); // every removal is announced to the peers
  }

  // ---------------------------------------------------------------- dispatch

  handle(session: ClientSession, request: Request): void {
    this.syncDataPlane();
    switch (request.kind) {
      case 'connect':
        return session.reply({ kind: 'connect', memoryCapacity: this.capacity });
      case 'create':
        return this.create(session, request);
      case 'createAndSeal':
        return this.createAndSeal(session, request);
      case 'createAndSealBatch':
        return this.createAndSealBatch(session, request);
      case 'abort':
        this.abort(session, request.objectId);
        return session.reply({ kind: 'abort', objectId: request.objectId });
      case 'seal':
        return this.seal(session, request.objectId, request.digest);
      case 'get':
        return this.get(session, request.objectIds, request.timeoutMs);
      case 'release':
        return this.release(session, request.objectId); // no reply, ever (§3.7)
      case 'delete':
        return session.reply({
          kind: 'delete',
          objectIds: request.objectIds,
          errors: request.objectIds.map((id) => this.delete(id)),
        });
      case 'contains':
        return session.reply({ kind: 'contains', objectId: request.objectId, hasObject: this.contains(request.objectId) });
      case 'list':
        return session.reply({
          kind: 'list',
          objects: [...this.objects.values()].filter((o) => !o.remote).map((o) => this.info(o)),
        });
      case 'evict':
        return session.reply({ kind: 'evict', numBytes: this.evictBytes(request.numBytes) });
      case 'subscribe':
        return this.subscribe(session);
      case 'setOptions': {
        session.name = request.clientName;
        const ok = this.policy.setClientQuota(session, request.clientName, request.outputMemoryQuota);
        // A quota decides where this client's objects go and what they may evict: TS creates them.
        if (ok) this.dataPlane.setClientCreates(session.dataPlaneClient, false);
        return session.reply({ kind: 'setOptions', error: ok ? PlasmaError.OK : PlasmaError.OutOfMemory });
      }
      case 'debugString':
        return session.reply({ kind: 'debugString', debugString: this.policy.debugString(this.allocated) });
      case 'refreshLru':
        for (const id of request.objectIds) this.policy.refresh(id.hex);
        return session.reply({ kind: 'refreshLru' });
    }
  }

  // ---------------------------------------------------------------- create / seal / abort

  private create(session: ClientSession, request: Extract<Request, { kind: 'create' }>): void {
    const { objectId, dataSize, metadataSize } = request;
    const fail = (error: ReplyErrorCode) =>
      session.reply({ kind: 'create', objectId, object: EMPTY_SPEC, error, storeFd: 0, mmapSize: 0 });
    // Known anywhere in the cluster: refuse now, before the client writes into memory it would lose.
    if (this.objects.get(objectId.hex) || this.cluster?.locate(objectId.hex)) return fail(PlasmaError.ObjectExists);
    // §3.2: no CUDA here, so a device object cannot be allocated.
    if (request.deviceNum !== 0) return fail(PlasmaError.OutOfMemory);
    const object = this.createObject(session, objectId, dataSize, metadataSize, request.evictIfFull);
    if (!object) return fail(PlasmaError.OutOfMemory);
    session.reply(
      {
        kind: 'create',
        objectId,
        object: this.specOf(object),
        error: PlasmaError.OK,
        storeFd: this.localSegment.id,
        mmapSize: reportedMmapSize(this.localSegment),
      },
      [this.localSegment],
    );
  }

  /** Allocate and register a new object, pinned by its creator; null when memory cannot be found. */
  private createObject(
    session: ClientSession,
    id: ObjectId,
    dataSize: number,
    metadataSize: number,
    evictIfFull: boolean,
  ): StoredObject | null {
    // Fenced (cut off from the cluster's membership): no new ids until it rejoins (OutOfMemory).
    if (this.cluster && !this.cluster.acceptsCreates()) return null;
    const offset = this.allocate(session, dataSize + metadataSize, evictIfFull, true);
    if (offset < 0) return null;
    const object = newObject(id, offset, dataSize, metadataSize, session);
    // Unsealed, but in the data plane already: its creator's pin lives there (docs/object-table.md §1).
    // TypeScript keeps an entry until the seal (claims, quotas, the creator's bookkeeping).
    this.dataPlane.publish(id.bytes, offset, dataSize, metadataSize, NO_DIGEST, false, session.dataPlaneClient,
      object.createTime, -1, RecordFlag.TsEntry);
    object.published = true;
    this.objects.add(object);
    if (this.cluster) {
      const claim = this.cluster.claim(object.key);
      // Overlapped with the client's write; Seal settles it.
      object.claim = typeof claim === 'string' ? Promise.resolve(claim) : claim;
    }
    this.policy.objectCreated(object.key, session, true);
    session.creating.add(object.key);
    this.pin(object, session);
    return object;
  }

  private createAndSeal(session: ClientSession, request: Extract<Request, { kind: 'createAndSeal' }>): void {
    const { objectId, data, metadata } = request;
    const reply = (error: ReplyErrorCode) => session.reply({ kind: 'createAndSeal', error });
    if (this.objects.get(objectId.hex) || this.cluster?.locate(objectId.hex)) return reply(PlasmaError.ObjectExists);
    const object = this.createObject(session, objectId, data.byteLength, metadata.byteLength, request.evictIfFull);
    if (!object) return reply(PlasmaError.OutOfMemory);
    this.writeObject(object, data, metadata);
    this.afterClaim(session, object, () => {
      this.publishSeal(object, request.digest);
      this.unpin(object, session);
      reply(PlasmaError.OK);
    }, () => reply(PlasmaError.ObjectExists));
  }

  /**
   * Run `sealed` once the object's id is ours in the whole cluster (at once on a single node);
   * if another node won the id, abort the object and run `lost`.
   */
  private afterClaim(session: ClientSession, object: StoredObject, sealed: () => void, lost: () => void): void {
    const claim = object.claim;
    if (!claim) return sealed();
    void claim.then((result) => {
      object.claim = null;
      if (session.closed || this.objects.get(object.key) !== object) return;
      // Sealed only while the claim is certainly ours: not if this node was fenced meanwhile.
      const allowed = result === 'granted' && this.cluster!.maySeal(object.key);
      if (allowed) return sealed();
      if (result === 'denied') this.counters.claimConflicts++;
      this.log.warn(
        result === 'denied'
          ? 'id already taken on another node; aborting the new object'
          : result === 'granted'
            ? 'this node was cut off from the cluster membership after the claim; refusing to seal'
            : 'home node of this id is unreachable; refusing to seal so that the id stays unique',
        { object: object.key },
      );
      this.refuse(object, session);
      lost();
    });
  }

  /**
   * Take a refused object out of the id space. Memory the creator may still map is never freed
   * under it: if the creator still holds the object, the allocation waits for its Release,
   * Abort or disconnect (a later allocation would otherwise overwrite what the client reads).
   */
  private refuse(object: StoredObject, creator: ClientSession): void {
    const mapped = this.holds(object, creator);
    const memory = { ...object };
    object.offset = -1; // removeObject must not free it now
    this.removeObject(object, false);
    if (mapped) creator.refused.set(object.key, memory);
    else this.freeMemory(memory);
  }

  /** The creator of a refused object let go of it: its memory can be reused now. */
  private freeRefused(session: ClientSession, key: string): boolean {
    const object = session.refused.get(key);
    if (!object) return false;
    session.refused.delete(key);
    this.freeMemory(object);
    return true;
  }

  private publishSeal(object: StoredObject, digest: Uint8Array): void {
    this.sealObject(object, digest);
    // Building the notification reads the digest back from native: only when someone listens.
    if (this.notifier.count > 0) this.notifier.publish([this.sealInfo(object)]);
    if (!object.replicaOf) this.cluster?.announceSealed(object.key, object.dataSize, object.metadataSize);
    this.wakeGets(object);
  }

  /** §3.5: all or nothing; one notification frame for the whole batch. */
  private createAndSealBatch(session: ClientSession, request: Extract<Request, { kind: 'createAndSealBatch' }>): void {
    const reply = (error: ReplyErrorCode) => session.reply({ kind: 'createAndSealBatch', error });
    const created: StoredObject[] = [];
    let error: ReplyErrorCode = PlasmaError.OK;
    for (let i = 0; i < request.objectIds.length; i++) {
      const id = request.objectIds[i]!;
      if (this.objects.get(id.hex) || this.cluster?.locate(id.hex)) {
        error = PlasmaError.ObjectExists;
        break;
      }
      const object = this.createObject(session, id, request.data[i]!.byteLength, request.metadata[i]!.byteLength, request.evictIfFull);
      if (!object) {
        error = PlasmaError.OutOfMemory;
        break;
      }
      created.push(object);
    }
    if (error !== PlasmaError.OK) {
      for (const object of created) this.removeObject(object, false);
      return reply(error);
    }
    created.forEach((object, i) => this.writeObject(object, request.data[i]!, request.metadata[i]!));
    const finish = (claims: string[]) => {
      if (session.closed) return;
      if (claims.some((claim) => claim !== 'granted') || (this.cluster && created.some((object) => !this.cluster!.maySeal(object.key)))) {
        for (const object of created) if (this.objects.get(object.key) === object) this.removeObject(object, false);
        return reply(PlasmaError.ObjectExists);
      }
      created.forEach((object, i) => this.sealObject(object, request.digests[i]!));
      if (this.notifier.count > 0) this.notifier.publish(created.map((object) => this.sealInfo(object)));
      for (const object of created) {
        if (!object.replicaOf) this.cluster?.announceSealed(object.key, object.dataSize, object.metadataSize);
        this.wakeGets(object);
        this.unpin(object, session);
      }
      reply(PlasmaError.OK);
    };
    if (!this.cluster) return finish([]);
    void Promise.all(created.map((object) => object.claim ?? 'granted')).then((claims) => {
      for (const object of created) object.claim = null;
      finish(claims);
    });
  }

  private seal(session: ClientSession, id: ObjectId, digest: Uint8Array): void {
    const reply = (error: ReplyErrorCode) => session.reply({ kind: 'seal', objectId: id, error });
    const object = this.objects.get(id.hex);
    // §3.3/§13: the reference crashes here; we answer with codes the client maps safely.
    if (!object || object.remote) return reply(PlasmaError.ObjectNotFound);
    if (object.state !== 'created') return reply(PlasmaError.ObjectExists);
    if (object.creator !== session) return reply(PlasmaError.ObjectNotFound);
    this.afterClaim(session, object, () => {
      this.publishSeal(object, digest);
      // The creator may have released it before sealing: now it can become evictable.
      if (this.pinCount(object) === 0) this.unpinned(object);
      reply(PlasmaError.OK);
    }, () => reply(PlasmaError.ObjectExists));
  }

  /**
   * Seal a local object: from here on its native record is all there is of it (a replica keeps
   * its TypeScript entry too). The digest is the codec's copy out of the frame.
   */
  private sealObject(object: StoredObject, digest: Uint8Array): void {
    object.state = 'sealed';
    object.constructDuration = nowSeconds() - object.createTime;
    if (object.creator) (object.creator as ClientSession).creating.delete(object.key);
    object.creator = null;
    // Its record in the region's index is written before the seal is acknowledged (a replica's
    // or a peer's object is not ours to bring back).
    if (object.published) {
      this.dataPlane.seal(object.id.bytes, digest, object.constructDuration, !object.replicaOf);
      this.dataPlane.setTsEntry(object.id.bytes, Boolean(object.replicaOf));
      if (!object.replicaOf) this.objects.remove(object.key);
    } else {
      this.publish(object, digest);
    }
  }

  /**
   * Take in the objects an earlier run left in a persistent external store (`-e file:///DIR`):
   * known as evicted, restored on their first Get. A copy recovered from the region wins.
   */
  adoptSpilled(entries: readonly SpilledEntry[]): void {
    for (const entry of entries) {
      if (this.objects.get(entry.key)) {
        this.external?.delete(entry.key); // restored, then the store died before deleting the spill
        continue;
      }
      const object = newObject(ObjectId.fromHex(entry.key), -1, entry.dataSize, entry.metadataSize, null);
      object.state = 'evicted';
      object.digest = entry.digest;
      object.constructDuration = 0;
      this.objects.add(object);
    }
  }

  /**
   * Take in the objects recovered from the region's index after a restart: sealed, unpinned and
   * evictable, as if their creators had released them.
   */
  adoptRecovered(records: readonly FoundRecord[]): void {
    for (const record of records) {
      const id = record.id.bytes;
      this.dataPlane.publish(id, record.offset, record.dataSize, record.metadataSize, record.digest, true, 0, record.createTime, 0, 0);
      this.dataPlane.setIndexSlot(id, record.slot);
      // Recovery reserved its block in the allocator; the data plane counts it from now on.
      this.dataPlane.addAllocated(record.dataSize + record.metadataSize);
    }
  }

  private abort(session: ClientSession, id: ObjectId): void {
    if (this.freeRefused(session, id.hex)) return;
    const object = this.objects.get(id.hex);
    if (!object || object.state !== 'created' || object.creator !== session) {
      this.log.debug('abort of an object this client is not creating', { client: session.label, object: id.hex });
      return;
    }
    // No notification, and gets waiting for this id keep waiting (§3.12).
    this.removeObject(object, false);
  }

  // ---------------------------------------------------------------- get / release

  private get(session: ClientSession, ids: ObjectId[], timeoutMs: number): void {
    const missing: string[] = [];
    for (const key of new Set(ids.map((id) => id.hex))) {
      const object = this.objects.get(key);
      if (object?.state === 'evicted') this.restore(object);
      if (object?.state === 'sealed') this.pin(object, session);
      else missing.push(key);
    }
    const immediate = timeoutMs === 0 || (timeoutMs < 0 && timeoutMs !== -1);
    // Keys that cannot appear now (owner or home node down) answer null at once: fail fast.
    const waitFor = this.cluster ? missing.filter((key) => !this.cluster!.unavailable(key)) : missing;
    const atPeers = this.cluster ? waitFor.filter((key) => this.cluster!.locate(key) !== undefined) : [];
    // §3.6: 0 answers at once; negative values other than −1 behave like 0.
    if (waitFor.length === 0 || (immediate && atPeers.length === 0)) {
      return this.replyGet(session, ids);
    }
    const pending = new PendingGet(session, ids, waitFor);
    this.pending.wait(pending, immediate ? -1 : timeoutMs, (expired) => this.finishGet(expired));
    this.updatePromptSeals();
    if (atPeers.length === 0) return;
    // One round trip per owner; a zero-timeout get answers as soon as the peers have.
    void this.cluster!.resolve(atPeers).then(() => {
      if (immediate) this.finishGet(pending);
    });
  }

  /** A peer went down: waiting gets stop waiting for keys that now cannot appear. */
  peerDown(): void {
    this.syncDataPlane();
    const cluster = this.cluster;
    if (!cluster) return;
    this.giveUp([...this.pending.keys()].filter((key) => cluster.unavailable(key)));
  }

  /** Waiting gets answer null for these keys (and reply if nothing else is missing). */
  giveUp(keys: readonly string[]): void {
    for (const key of keys) {
      for (const pending of this.pending.waitingFor(key)) {
        this.pending.satisfied(pending, key);
        if (pending.missing.size === 0) this.finishGet(pending);
      }
    }
  }

  /** A peer announced a seal: gets waiting here for that key can now be served. */
  remoteSealed(key: string): void {
    this.syncDataPlane();
    if (this.pending.waitingFor(key).length > 0) void this.cluster?.resolve([key]);
  }

  // The remote-get policy (which owner, which transport, batching, giving up) lives in
  // src/cluster/remote-gets.ts; these are the store-side mechanisms it uses (ClusterStore).

  /** An object of this id is here already (local, proxy or replica). */
  has(key: string): boolean {
    return this.objects.get(key) !== undefined;
  }

  /**
   * Shared transport: a proxy entry over the owner's region (pinned there for this store), which
   * wakes the gets waiting for it; false if the id is here already (the caller gives the pin back).
   */
  adoptProxy(remote: RemoteObject, segment: Segment): boolean {
    this.syncDataPlane();
    if (this.objects.get(remote.key)) return false;
    this.counters.remoteGet('shared', 1);
    const object = this.proxyOf(remote, segment);
    this.objects.add(object);
    this.wakeGets(object);
    // Nobody waits any more (timed out meanwhile): give the pin back at once.
    if (this.pinCount(object) === 0) this.unpinned(object);
    return true;
  }

  private proxyOf(remote: RemoteObject, segment: Segment): StoredObject {
    return {
      id: ObjectId.fromHex(remote.key),
      key: remote.key,
      state: 'sealed',
      offset: remote.offset,
      dataSize: remote.dataSize,
      metadataSize: remote.metadataSize,
      createTime: nowSeconds(),
      constructDuration: 0,
      digest: remote.digest,
      holders: null,
      creator: null,
      deletePending: false,
      remote: { node: remote.node, segment },
    };
  }

  /** Copy transport: memory for a replica of a peer's object (null: here already, or no room). */
  allocateReplica(key: string, node: string, dataSize: number, metadataSize: number): Uint8Array | null {
    this.syncDataPlane();
    if (this.objects.get(key)) return null;
    const offset = this.allocate(null, dataSize + metadataSize, true, false);
    if (offset < 0) return null;
    const replica: StoredObject = { ...newObject(ObjectId.fromHex(key), offset, dataSize, metadataSize, null), replicaOf: node };
    this.objects.add(replica);
    return this.view(offset, dataSize + metadataSize);
  }

  /** A copy failed or came back empty: no half-made replica stays behind. */
  dropReplica(key: string): void {
    const object = this.objects.get(key);
    if (object?.replicaOf && object.state === 'created') this.removeObject(object, false);
  }

  /** A copy arrived, verified: the replica is sealed (evictable like any local object) and wakes gets. */
  sealReplica(key: string, digest: Uint8Array): void {
    this.syncDataPlane();
    const object = this.objects.get(key);
    if (!object?.replicaOf || object.state !== 'created') return;
    this.counters.remoteGet('copy', 1, objectBytes(object));
    this.policy.objectCreated(key, null, false);
    this.publishSeal(object, digest);
  }

  private finishGet(pending: PendingGet): void {
    if (pending.finished) return;
    this.syncDataPlane();
    this.pending.finish(pending);
    this.updatePromptSeals();
    this.replyGet(pending.session, pending.ids);
  }

  /** A sealed object satisfies every get waiting for it: each waiting client gets its reference now. */
  private wakeGets(object: StoredObject): void {
    for (const pending of this.pending.waitingFor(object.key)) {
      this.pin(object, pending.session);
      this.pending.satisfied(pending, object.key);
      if (pending.missing.size === 0) this.finishGet(pending);
    }
  }

  /** GetReply: every requested position, in order; the distinct segments used, then their fds (§3.6). */
  private replyGet(session: ClientSession, ids: readonly ObjectId[]): void {
    const segments: Segment[] = [];
    const objects = ids.map((id) => {
      const object = this.objects.get(id.hex);
      if (!object || object.state !== 'sealed' || !this.holds(object, session)) return null;
      const segment = this.segmentOf(object);
      if (!segments.includes(segment)) segments.push(segment);
      return this.specOf(object);
    });
    session.reply(
      {
        kind: 'get',
        objectIds: [...ids],
        objects,
        storeFds: segments.map((s) => s.id),
        mmapSizes: segments.map(reportedMmapSize),
      },
      segments,
    );
  }

  private release(session: ClientSession, id: ObjectId): void {
    if (this.freeRefused(session, id.hex)) return;
    const object = this.objects.get(id.hex);
    // §13: releasing what one does not hold is ignored, not fatal.
    if (!object || !this.holds(object, session)) return;
    this.unpin(object, session);
  }

  // ---------------------------------------------------------------- delete / contains / list / evict

  private delete(id: ObjectId): (typeof PlasmaError)[keyof typeof PlasmaError] {
    const object = this.objects.get(id.hex);
    // Only the owner deletes; a peer's object read here is not ours to delete.
    if (!object || object.remote) return PlasmaError.ObjectNotFound;
    if (object.state === 'created') {
      this.markDeletePending(object);
      return PlasmaError.ObjectNotSealed;
    }
    if (this.pinCount(object) > 0) {
      this.markDeletePending(object);
      return PlasmaError.ObjectInUse;
    }
    this.removeObject(object, true);
    return PlasmaError.OK;
  }

  /** Delete on the last release (§3.8); the data plane then reports that release at once. */
  private markDeletePending(object: StoredObject): void {
    object.deletePending = true;
    if (object.published) this.dataPlane.setDeletePending(object.id.bytes);
  }

  private contains(id: ObjectId): boolean {
    const state = this.objects.get(id.hex)?.state;
    return state === 'sealed' || state === 'evicted' || this.cluster?.locate(id.hex) !== undefined;
  }

  private evictBytes(numBytes: number): number {
    const keys = this.policy.chooseToEvict(numBytes);
    let total = 0;
    for (const key of keys) total += objectBytes(this.objects.get(key)!);
    this.evictObjects(keys);
    return total;
  }

  // ---------------------------------------------------------------- subscribe

  private subscribe(session: ClientSession): void {
    // §5.1: the client follows the frame with one fd-carrier message; a second subscription's fd is discarded.
    session.expectedFds.push(session.subscription || session.expectedFds.includes('subscribe') ? 'discard' : 'subscribe');
  }

  /** A descriptor arrived on a client's main socket. */
  receiveFd(session: ClientSession, fd: number): void {
    const purpose = session.expectedFds.shift();
    if (purpose !== 'subscribe') {
      native.closeFd(fd);
      if (!purpose) this.log.warn('unexpected descriptor from client, closed it', { client: session.label });
      return;
    }
    let channel: NativeChannel;
    try {
      channel = native.channelFromFd(fd, 'length64');
    } catch (error) {
      // Any descriptor can arrive (a pipe, /dev/null, a memfd): it costs the sender its
      // subscription, never the store, and the descriptor is not kept.
      native.closeFd(fd);
      this.log.warn('client passed a descriptor that is not a Unix stream socket with its SubscribeRequest; ignored it', {
        client: session.label,
        reason: (error as Error).message,
      });
      return;
    }
    session.subscription = channel;
    // §5.1: a new subscriber first hears of every sealed object, one frame each.
    const snapshot: ObjectInfo[] = [];
    for (const object of this.objects.values()) {
      if (object.state === 'sealed') snapshot.push(this.sealInfo(object));
    }
    this.notifier.add(channel, snapshot);
    this.updatePromptSeals();
  }

  // ---------------------------------------------------------------- disconnect (§8)

  disconnect(session: ClientSession): void {
    if (session.closed) return;
    this.syncDataPlane();
    session.closed = true;
    for (const pending of [...session.pendingGets]) this.pending.finish(pending);
    this.policy.clientDisconnected(session);
    for (const key of [...session.creating]) {
      const object = this.objects.get(key);
      if (object?.state === 'created') this.removeObject(object, false);
    }
    session.creating.clear();
    for (const key of [...session.refused.keys()]) this.freeRefused(session, key);
    for (const key of [...session.held]) {
      const object = this.objects.get(key);
      if (object) this.unpin(object, session);
    }
    session.held.clear();
    // Its pins go, and the objects it was creating natively (events report what TS decides on).
    if (session.dataPlaneClient >= 0) this.dataPlane.dropClient(session.dataPlaneClient);
    this.syncDataPlane();
    if (session.subscription) this.notifier.remove(session.subscription);
    this.sessionsByClient.delete(session.dataPlaneClient);
    this.updatePromptSeals();
    session.subscription = null;
  }

  // ---------------------------------------------------------------- pins and evictability

  pinCount(object: StoredObject): number {
    return object.published ? this.dataPlane.pins(object.id.bytes) : (object.holders?.size ?? 0);
  }

  /**
   * At most one reference per holder (§3.6). The first one takes the object out of the LRU.
   * Pins on published objects live in the data plane (docs/object-table.md §1): clients' by
   * client, others' as a count whose holders' names are kept here.
   */
  pin(object: StoredObject, holder: Holder): void {
    if (object.published) {
      if (isSession(holder)) {
        if (!this.dataPlane.pin(object.id.bytes, holder.dataPlaneClient)) return;
      } else {
        let holders = this.hostHolders.get(object.key);
        if (holders?.has(holder)) return;
        if (!holders) this.hostHolders.set(object.key, (holders = new Set()));
        holders.add(holder);
        this.dataPlane.pinHost(object.id.bytes);
      }
      this.policy.beginAccess(object.key); // a quota-owned object is shared for read now
      return;
    }
    if (object.holders?.has(holder)) return;
    (object.holders ??= new Set()).add(holder);
    if (isSession(holder)) holder.held.add(object.key);
  }

  unpin(object: StoredObject, holder: Holder): void {
    if (object.published) {
      if (isSession(holder)) {
        if (!this.dataPlane.unpin(object.id.bytes, holder.dataPlaneClient)) return;
      } else {
        const holders = this.hostHolders.get(object.key);
        if (!holders?.delete(holder)) return;
        if (holders.size === 0) this.hostHolders.delete(object.key);
        this.dataPlane.unpinHost(object.id.bytes);
      }
    } else {
      if (!object.holders?.delete(holder)) return;
      if (isSession(holder)) holder.held.delete(object.key);
    }
    if (this.pinCount(object) === 0) this.unpinned(object);
  }

  /** The last reference went away: a deferred delete fires, or the object becomes evictable (§3.7). */
  private unpinned(object: StoredObject): void {
    if (object.remote) {
      // Nobody here reads the peer's object any more: forget it and give back the owner's pin.
      this.objects.remove(object.key);
      this.cluster?.unpin(object.remote.node, [object.key]);
      return;
    }
    // §13: an unsealed object never enters the LRU, even if its creator released it.
    if (object.state !== 'sealed') return;
    if (object.deletePending) {
      this.removeObject(object, true);
      return;
    }
    // The data plane put it into the global LRU; a quota-owned one is no longer shared for read.
    this.policy.endAccess(object.key);
  }

  // ---------------------------------------------------------------- memory

  /**
   * Find memory for `size` bytes, evicting as the reference does (§9): first within the client's
   * quota, then from the global LRU, at least 20 % of capacity per round, until it fits or nothing
   * more can go. -1 when it cannot fit.
   */
  private allocate(session: ClientSession | null, size: number, evictIfFull: boolean, isCreate: boolean): number {
    if (evictIfFull) {
      const quota = this.policy.enforcePerClientQuota(session, size, isCreate);
      if (!quota.ok) return -1;
      this.evictObjects(quota.keys);
    }
    for (;;) {
      const offset = this.tryAllocate(size);
      if (offset >= 0 || !evictIfFull) return offset;
      const choice = this.policy.requireSpace(size, this.allocated);
      this.evictObjects(choice.keys);
      if (!choice.ok) return this.tryAllocate(size);
    }
  }

  private tryAllocate(size: number): number {
    // Sizes beyond any capacity never reach native code (they may exceed 2^53, §13).
    if (size > this.capacity) return -1;
    // Capacity (-m) and the allocator are checked together natively, for both paths.
    return this.dataPlane.allocate(size);
  }

  private freeMemory(object: StoredObject): void {
    // A proxy's offset is in the owner's region, never ours to free. (Its index record went
    // with its native record, before this.)
    if (object.offset < 0 || object.remote) return;
    this.dataPlane.free(object.offset, objectBytes(object));
    object.offset = -1;
  }

  /** Evicted objects go to the external store if there is one, else they are deleted (§9). */
  private evictObjects(keys: readonly string[]): void {
    for (const key of keys) {
      const object = this.objects.get(key);
      if (!object || object.state !== 'sealed' || this.pinCount(object) > 0) continue;
      this.counters.evicted(objectBytes(object), this.external !== null);
      if (this.external) {
        const digest = this.digestOf(object);
        this.external.put(key, {
          data: this.view(object.offset, object.dataSize),
          metadata: this.view(object.offset + object.dataSize, object.metadataSize),
          digest,
        });
        this.unpublish(object);
        object.digest = Uint8Array.from(digest); // no record while evicted; publish() takes it back
        this.freeMemory(object);
        this.policy.removeObject(key);
        object.state = 'evicted';
        this.objects.add(object); // TypeScript's entry while evicted (a view becomes one)
      } else {
        this.removeObject(object, true);
      }
    }
  }

  /** Bring an evicted object back from the external store; it stays evicted if memory cannot be found. */
  private restore(object: StoredObject): void {
    let spilled;
    try {
      spilled = this.external?.get(object.key);
    } catch (error) {
      this.log.error('cannot restore object from the external store', { object: object.key, error: String(error) });
      return;
    }
    if (!spilled) return;
    const offset = this.allocate(null, objectBytes(object), true, false);
    if (offset < 0) return;
    object.offset = offset;
    this.writeObject(object, spilled.data, spilled.metadata);
    object.state = 'sealed';
    this.publish(object, object.digest);
    this.external!.delete(object.key);
    this.counters.restores++;
  }

  /** Forget an object entirely; a deletion notification goes out if it was visible. */
  private removeObject(object: StoredObject, notify: boolean): void {
    this.unpublish(object);
    this.freeMemory(object);
    if (object.state === 'evicted') this.external?.delete(object.key);
    this.policy.removeObject(object.key);
    this.objects.remove(object.key);
    for (const holder of object.holders ?? []) if (isSession(holder)) holder.held.delete(object.key);
    object.holders = null;
    if (object.creator) (object.creator as ClientSession).creating.delete(object.key);
    object.creator = null;
    if (notify) this.notifier.publish([deletionInfo(object.id)]);
    if (this.cluster && !object.remote && !object.replicaOf) {
      if (object.state !== 'created') this.cluster.announceRemoved(object.key);
      this.cluster.unclaim(object.key);
    }
  }

  private writeObject(object: StoredObject, data: Uint8Array, metadata: Uint8Array): void {
    if (data.byteLength > 0) this.view(object.offset, data.byteLength).set(data);
    if (metadata.byteLength > 0) this.view(object.offset + object.dataSize, metadata.byteLength).set(metadata);
  }

  /** A zero-copy view of region bytes. */
  view(offset: number, length: number): Uint8Array {
    const window = this.region.mapping.window(offset, length);
    return new Uint8Array(window.buffer, window.byteOffset, length);
  }

  // ---------------------------------------------------------------- encoding helpers

  private segmentOf(object: StoredObject): Segment {
    return object.remote ? object.remote.segment : this.localSegment;
  }

  private specOf(object: StoredObject): ObjectSpec {
    return {
      segmentIndex: this.segmentOf(object).id,
      dataOffset: object.offset,
      dataSize: object.dataSize,
      metadataOffset: object.offset + object.dataSize,
      metadataSize: object.metadataSize,
      deviceNum: 0,
    };
  }

  private sealInfo(object: StoredObject): ObjectInfo {
    return {
      objectId: object.id,
      dataSize: object.dataSize,
      metadataSize: object.metadataSize,
      refCount: 0,
      createTime: 0,
      constructDuration: 0,
      digest: this.digestOf(object),
      isDeletion: false,
    };
  }

  private info(object: StoredObject): ObjectInfo {
    return {
      objectId: object.id,
      dataSize: object.dataSize,
      metadataSize: object.metadataSize,
      refCount: this.pinCount(object),
      createTime: object.createTime,
      constructDuration: object.constructDuration,
      digest: this.digestOf(object),
      isDeletion: false,
    };
  }

  // ---------------------------------------------------------------- what peers ask of this store

  /** Lookup from a peer: pin each sealed local object for that peer and say where it lies. */
  lookupForPeer(holder: PeerHolder, keys: readonly string[]): RemoteObject[] {
    this.syncDataPlane();
    const found: RemoteObject[] = [];
    for (const key of keys) {
      const object = this.objects.get(key);
      if (object?.state === 'evicted') this.restore(object);
      if (!object || object.state !== 'sealed' || object.remote || object.replicaOf) continue;
      this.pin(object, holder);
      holder.keys.add(key);
      found.push({
        key,
        node: this.region.nodeName,
        offset: object.offset,
        dataSize: object.dataSize,
        metadataSize: object.metadataSize,
        digest: this.digestOf(object),
      });
    }
    return found;
  }

  unpinForPeer(holder: PeerHolder, keys: readonly string[]): void {
    this.syncDataPlane();
    for (const key of keys) {
      if (!holder.keys.delete(key)) continue;
      const object = this.objects.get(key);
      if (object) this.unpin(object, holder);
    }
  }

  /** A peer's lease expired (it died or was cut off): drop every pin it held. */
  expirePeer(holder: PeerHolder): void {
    this.counters.leaseExpiries++;
    this.unpinForPeer(holder, [...holder.keys]);
  }

  /** Copy transport, owner side: pin while streaming, then call `done`. */
  readForPeer(holder: PeerHolder, key: string): { data: Uint8Array; metadata: Uint8Array; digest: Uint8Array; done(): void } | null {
    const [found] = this.lookupForPeer(holder, [key]);
    if (!found) return null;
    return {
      data: this.view(found.offset, found.dataSize),
      metadata: this.view(found.offset + found.dataSize, found.metadataSize),
      digest: found.digest,
      done: () => this.unpinForPeer(holder, [key]),
    };
  }

  /**
   * Another node holds this id (found when this node rejoined after being cut off): drop ours,
   * at once or at its last local release.
   */
  dropDuplicate(key: string): void {
    this.syncDataPlane();
    const object = this.objects.get(key);
    if (!object || object.remote || object.replicaOf) return;
    this.delete(object.id);
  }

  /** Sealed objects owned here (for a peer's initial directory). */
  *ownedSealed(): IterableIterator<StoredObject> {
    for (const object of this.objects.values()) {
      if ((object.state === 'sealed' || object.state === 'evicted') && !object.remote && !object.replicaOf) yield object;
    }
  }

  /**
   * Objects by state, and those of peers (proxies and replicas), for `plasmapool stat` and the
   * metrics: counted from the native records' flags, without a view per object.
   */
  objectStates(): { created: number; sealed: number; evicted: number; remote: number } {
    this.syncDataPlane();
    const counts = { ...countRecords(this.dataPlane.records(), RecordFlag.Sealed), evicted: 0, remote: 0 };
    for (const object of this.objects.entries()) {
      if (object.remote || object.replicaOf) counts.remote++;
      if (!object.published) counts[object.state]++; // published ones are counted natively
    }
    return counts;
  }

  /** Numbers for `cluster status`, logs and benchmarks. */
  stats(): { objects: number; allocated: number; capacity: number; subscribers: number; clients: number } {
    this.syncDataPlane();
    return {
      clients: this.clientCount,
      objects: this.objects.size,
      allocated: this.allocated,
      capacity: this.capacity,
      subscribers: this.notifier.count,
    };
  }
}

/** A freshly allocated, unsealed object. */
function newObject(
  id: ObjectId,
  offset: number,
  dataSize: number,
  metadataSize: number,
  creator: Holder | null,
  createTime = nowSeconds(),
): StoredObject {
  return {
    id,
    key: id.hex,
    state: 'created',
    offset,
    dataSize,
    metadataSize,
    createTime,
    constructDuration: -1,
    digest: NO_DIGEST,
    holders: null,
    creator,
    deletePending: false,
    published: false,
  };
}

/** The digest of an unsealed object: empty (§2.5), shared by all of them. */
const NO_DIGEST = new Uint8Array(0);

function isSession(holder: Holder): holder is ClientSession {
  return 'held' in holder;
}
