/**
 * The store's state machine: the object table, the Plasma request handlers, waiting gets,
 * notifications and eviction (plasma-protocol §3, §5, §8, §9). It never touches a socket directly:
 * requests arrive decoded, replies leave through the session.
 */
import type { NativeAllocator, NativeRegion } from '../native/index.js';
import { native } from '../native/index.js';
import { PlasmaError, type ObjectInfo, type ObjectSpec, type ReplyErrorCode, type Request } from '../protocol/messages.js';
import type { ObjectId } from '../protocol/object-id.js';
import type { Logger } from '../util/log.js';
import { EvictionPolicy } from './eviction-policy.js';
import type { ExternalStore } from './external/external-store.js';
import { deletionInfo, Notifier } from './notifier.js';
import { ObjectTable, objectBytes, type Holder, type StoredObject } from './object-table.js';
import { PendingGet, PendingGets } from './pending-gets.js';
import { reportedMmapSize, SegmentRegistry, type Segment } from './segments.js';
import type { ClientSession } from './session.js';

export interface PlasmaStoreConfig {
  /** The -m capacity: what ConnectReply reports and what objects may use in total (§9). */
  capacity: number;
  region: NativeRegion;
  allocator: NativeAllocator;
  external: ExternalStore | null;
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
  readonly objects = new ObjectTable();
  readonly notifier: Notifier;
  readonly segments = new SegmentRegistry();
  readonly localSegment: Segment;
  private readonly policy: EvictionPolicy<ClientSession>;
  private readonly pending = new PendingGets();
  private readonly capacity: number;
  private readonly region: NativeRegion;
  private readonly allocator: NativeAllocator;
  private readonly external: ExternalStore | null;
  private readonly log: Logger;
  /** Sum of data + metadata sizes of every allocated object (§9: exact, no rounding). */
  private allocatedBytes = 0;

  constructor(config: PlasmaStoreConfig) {
    this.capacity = config.capacity;
    this.region = config.region;
    this.allocator = config.allocator;
    this.external = config.external;
    this.log = config.log;
    this.notifier = new Notifier(config.log);
    this.policy = new EvictionPolicy(config.capacity, (key) => {
      const object = this.objects.get(key);
      return object ? objectBytes(object) : 0;
    });
    this.localSegment = this.segments.register(config.region.fd, config.region.mapLength, config.region.nodeName);
  }

  get allocated(): number {
    return this.allocatedBytes;
  }

  // ---------------------------------------------------------------- dispatch

  handle(session: ClientSession, request: Request): void {
    switch (request.kind) {
      case 'connect':
        return session.reply({ kind: 'connect', memoryCapacity: this.capacity });
      case 'create':
        return this.create(session, request);
      case 'createAndSeal':
        return session.reply({ kind: 'createAndSeal', error: this.createAndSeal(session, request) });
      case 'createAndSealBatch':
        return session.reply({ kind: 'createAndSealBatch', error: this.createAndSealBatch(session, request) });
      case 'abort':
        this.abort(session, request.objectId);
        return session.reply({ kind: 'abort', objectId: request.objectId });
      case 'seal':
        return session.reply({ kind: 'seal', objectId: request.objectId, error: this.seal(session, request.objectId, request.digest) });
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
        return session.reply({ kind: 'list', objects: [...this.objects.values()].map((o) => this.info(o)) });
      case 'evict':
        return session.reply({ kind: 'evict', numBytes: this.evictBytes(request.numBytes) });
      case 'subscribe':
        return this.subscribe(session);
      case 'setOptions':
        session.name = request.clientName;
        return session.reply({
          kind: 'setOptions',
          error: this.policy.setClientQuota(session, request.clientName, request.outputMemoryQuota)
            ? PlasmaError.OK
            : PlasmaError.OutOfMemory,
        });
      case 'debugString':
        return session.reply({ kind: 'debugString', debugString: this.policy.debugString(this.allocatedBytes) });
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
    if (this.objects.get(objectId.hex)) return fail(PlasmaError.ObjectExists);
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
    const offset = this.allocate(session, dataSize + metadataSize, evictIfFull, true);
    if (offset < 0) return null;
    const object: StoredObject = {
      id,
      key: id.hex,
      state: 'created',
      offset,
      dataSize,
      metadataSize,
      createTime: nowSeconds(),
      constructDuration: -1,
      digest: new Uint8Array(0),
      holders: new Set(),
      creator: session,
      deletePending: false,
      accessed: false,
    };
    this.objects.add(object);
    this.policy.objectCreated(object.key, session, true);
    session.creating.add(object.key);
    this.pin(object, session);
    return object;
  }

  private createAndSeal(session: ClientSession, request: Extract<Request, { kind: 'createAndSeal' }>): ReplyErrorCode {
    const { objectId, data, metadata } = request;
    if (this.objects.get(objectId.hex)) return PlasmaError.ObjectExists;
    const object = this.createObject(session, objectId, data.byteLength, metadata.byteLength, request.evictIfFull);
    if (!object) return PlasmaError.OutOfMemory;
    this.writeObject(object, data, metadata);
    this.sealObject(object, request.digest);
    this.notifier.publish([this.sealInfo(object)]);
    this.wakeGets(object);
    this.unpin(object, session);
    return PlasmaError.OK;
  }

  /** §3.5: all or nothing; one notification frame for the whole batch. */
  private createAndSealBatch(
    session: ClientSession,
    request: Extract<Request, { kind: 'createAndSealBatch' }>,
  ): ReplyErrorCode {
    const created: StoredObject[] = [];
    let error: ReplyErrorCode = PlasmaError.OK;
    for (let i = 0; i < request.objectIds.length; i++) {
      const id = request.objectIds[i]!;
      if (this.objects.get(id.hex)) {
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
      return error;
    }
    created.forEach((object, i) => {
      this.writeObject(object, request.data[i]!, request.metadata[i]!);
      this.sealObject(object, request.digests[i]!);
    });
    this.notifier.publish(created.map((object) => this.sealInfo(object)));
    for (const object of created) {
      this.wakeGets(object);
      this.unpin(object, session);
    }
    return PlasmaError.OK;
  }

  private seal(session: ClientSession, id: ObjectId, digest: Uint8Array): ReplyErrorCode {
    const object = this.objects.get(id.hex);
    // §3.3/§13: the reference crashes here; we answer with codes the client maps safely.
    if (!object) return PlasmaError.ObjectNotFound;
    if (object.state !== 'created') return PlasmaError.ObjectExists;
    if (object.creator !== session) return PlasmaError.ObjectNotFound;
    this.sealObject(object, digest);
    this.notifier.publish([this.sealInfo(object)]);
    this.wakeGets(object);
    // The creator may have released it before sealing: now it can become evictable.
    if (this.pinCount(object) === 0) this.unpinned(object);
    return PlasmaError.OK;
  }

  private sealObject(object: StoredObject, digest: Uint8Array): void {
    object.state = 'sealed';
    object.digest = Uint8Array.from(digest);
    object.constructDuration = nowSeconds() - object.createTime;
    if (object.creator) (object.creator as ClientSession).creating.delete(object.key);
    object.creator = null;
  }

  private abort(session: ClientSession, id: ObjectId): void {
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
    // §3.6: 0 answers at once; negative values other than −1 behave like 0.
    if (missing.length === 0 || timeoutMs === 0 || (timeoutMs < 0 && timeoutMs !== -1)) {
      return this.replyGet(session, ids);
    }
    const pending = new PendingGet(session, ids, missing);
    this.pending.wait(pending, timeoutMs, (expired) => this.finishGet(expired));
  }

  private finishGet(pending: PendingGet): void {
    if (pending.finished) return;
    this.pending.finish(pending);
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
      if (!object || object.state !== 'sealed' || !object.holders.has(session)) return null;
      if (!segments.includes(this.localSegment)) segments.push(this.localSegment);
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
    const object = this.objects.get(id.hex);
    // §13: releasing what one does not hold is ignored, not fatal.
    if (!object || !object.holders.has(session)) return;
    this.unpin(object, session);
  }

  // ---------------------------------------------------------------- delete / contains / list / evict

  private delete(id: ObjectId): (typeof PlasmaError)[keyof typeof PlasmaError] {
    const object = this.objects.get(id.hex);
    if (!object) return PlasmaError.ObjectNotFound;
    if (object.state === 'created') {
      object.deletePending = true;
      return PlasmaError.ObjectNotSealed;
    }
    if (this.pinCount(object) > 0) {
      object.deletePending = true;
      return PlasmaError.ObjectInUse;
    }
    this.removeObject(object, true);
    return PlasmaError.OK;
  }

  private contains(id: ObjectId): boolean {
    const state = this.objects.get(id.hex)?.state;
    return state === 'sealed' || state === 'evicted';
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
    const channel = native.channelFromFd(fd, 'length64');
    session.subscription = channel;
    this.notifier.add(channel);
    // §5.1: a new subscriber first hears of every sealed object, one frame each.
    for (const object of this.objects.values()) {
      if (object.state === 'sealed') this.notifier.publish([this.sealInfo(object)], channel);
    }
  }

  // ---------------------------------------------------------------- disconnect (§8)

  disconnect(session: ClientSession): void {
    if (session.closed) return;
    session.closed = true;
    for (const pending of [...session.pendingGets]) this.pending.finish(pending);
    this.policy.clientDisconnected(session);
    for (const key of [...session.creating]) {
      const object = this.objects.get(key);
      if (object?.state === 'created') this.removeObject(object, false);
    }
    session.creating.clear();
    for (const key of [...session.held]) {
      const object = this.objects.get(key);
      if (object) this.unpin(object, session);
    }
    session.held.clear();
    if (session.subscription) this.notifier.remove(session.subscription);
    session.subscription = null;
  }

  // ---------------------------------------------------------------- pins and evictability

  pinCount(object: StoredObject): number {
    return object.holders.size;
  }

  /** At most one reference per holder (§3.6). The first one takes the object out of the LRU. */
  pin(object: StoredObject, holder: Holder): void {
    if (object.holders.has(holder)) return;
    object.holders.add(holder);
    if (isSession(holder)) holder.held.add(object.key);
    if (!object.accessed) {
      object.accessed = true;
      this.policy.beginAccess(object.key);
    }
  }

  unpin(object: StoredObject, holder: Holder): void {
    if (!object.holders.delete(holder)) return;
    if (isSession(holder)) holder.held.delete(object.key);
    if (this.pinCount(object) === 0) this.unpinned(object);
  }

  /** The last reference went away: a deferred delete fires, or the object becomes evictable (§3.7). */
  private unpinned(object: StoredObject): void {
    // §13: an unsealed object never enters the LRU, even if its creator released it.
    if (object.state !== 'sealed') return;
    if (object.deletePending) {
      this.removeObject(object, true);
      return;
    }
    if (object.accessed) {
      object.accessed = false;
      this.policy.endAccess(object.key);
    }
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
      const choice = this.policy.requireSpace(size, this.allocatedBytes);
      this.evictObjects(choice.keys);
      if (!choice.ok) return this.tryAllocate(size);
    }
  }

  private tryAllocate(size: number): number {
    if (this.allocatedBytes + size > this.capacity) return -1;
    const offset = this.allocator.allocate(size);
    if (offset < 0) return -1;
    this.allocatedBytes += size;
    return offset;
  }

  private freeMemory(object: StoredObject): void {
    if (object.offset < 0) return;
    this.allocator.free(object.offset);
    this.allocatedBytes -= objectBytes(object);
    object.offset = -1;
  }

  /** Evicted objects go to the external store if there is one, else they are deleted (§9). */
  private evictObjects(keys: readonly string[]): void {
    for (const key of keys) {
      const object = this.objects.get(key);
      if (!object || object.state !== 'sealed' || this.pinCount(object) > 0) continue;
      if (this.external) {
        this.external.put(key, {
          data: this.view(object.offset, object.dataSize),
          metadata: this.view(object.offset + object.dataSize, object.metadataSize),
          digest: object.digest,
        });
        this.freeMemory(object);
        this.policy.removeObject(key);
        object.accessed = false;
        object.state = 'evicted';
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
    this.external!.delete(object.key);
    this.policy.objectCreated(object.key, null, false);
  }

  /** Forget an object entirely; a deletion notification goes out if it was visible. */
  private removeObject(object: StoredObject, notify: boolean): void {
    this.freeMemory(object);
    if (object.state === 'evicted') this.external?.delete(object.key);
    this.policy.removeObject(object.key);
    this.objects.remove(object.key);
    for (const holder of object.holders) if (isSession(holder)) holder.held.delete(object.key);
    object.holders.clear();
    if (object.creator) (object.creator as ClientSession).creating.delete(object.key);
    object.creator = null;
    if (notify) this.notifier.publish([deletionInfo(object.id)]);
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

  private specOf(object: StoredObject): ObjectSpec {
    return {
      segmentIndex: this.localSegment.id,
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
      digest: object.digest,
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
      digest: object.state === 'created' ? new Uint8Array(0) : object.digest,
      isDeletion: false,
    };
  }

  /** Numbers for `cluster status`, logs and benchmarks. */
  stats(): { objects: number; allocated: number; capacity: number; subscribers: number } {
    return {
      objects: this.objects.size,
      allocated: this.allocatedBytes,
      capacity: this.capacity,
      subscribers: this.notifier.count,
    };
  }
}

function isSession(holder: Holder): holder is ClientSession {
  return 'held' in holder;
}
