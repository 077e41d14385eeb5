/**
 * The TypeScript Plasma client: every operation of the protocol over the native channel, with
 * segments mapped once per connection and zero-copy object buffers that release themselves.
 */
import { native, type NativeMapping } from '../native/index.js';
import { PlasmaError, type ObjectInfo, type ObjectSpec, type Reply } from '../protocol/messages.js';
import { ObjectId } from '../protocol/object-id.js';
import { DigestWriter, plasmaDigest } from '../protocol/digest.js';
import { Connection } from './connection.js';
import { ObjectBuffer, type WriteTarget } from './object-buffer.js';
import { PlasmaStoreError, errorForCode } from './errors.js';
import { LocalObjects, type LocalObject } from './local-objects.js';
import { NotificationStream, type Notification } from './notifications.js';

/** Options of connect(). */
export interface ConnectOptions {
  /** Connection attempts after the first while the store is not accepting (default 50). */
  retries?: number;
  /** Delay between attempts in ms (default 100). */
  retryDelayMs?: number;
  /**
   * How long a request may wait for its reply awake, in µs, before it leaves the wait to the event
   * loop (default 50, at most 1,000; 0: never). Only while it is the only request in flight in this
   * process. A CPU that goes idle while the store answers is halted, and on a VM waking it again
   * costs tens of microseconds; the store usually answers sooner.
   */
  replySpinMicros?: number;
}

/** Options of get() and getOne(). */
export interface GetOptions {
  /** −1 waits until every object is sealed (default), 0 answers at once, k > 0 waits up to k ms. */
  timeoutMs?: number;
}

/** Options of create(). */
export interface CreateOptions {
  /** Metadata bytes written right after the data (the client copies them in, §3.2). */
  metadata?: Uint8Array;
  /** Evict unpinned objects to make room (default true, as every Plasma client does). */
  evictIfFull?: boolean;
}

/** An entry of `list()`. */
export interface ObjectListing {
  id: ObjectId;
  dataSize: number;
  metadataSize: number;
  refCount: number;
  /** Unix seconds. */
  createTime: number;
  /** Seconds between create and seal; −1 while unsealed. */
  constructDuration: number;
  state: 'created' | 'sealed';
  /** The digest its creator sealed it with (docs/protocol.md §6, 8 bytes); empty while unsealed. */
  digest: Uint8Array;
}

interface MappedSegment {
  mapping: NativeMapping;
}

/**
 * Each object buffer's memory is an alias of the segment's mapping (native aliasMapping): O(1)
 * to make whatever the object's size, no mmap and no copy, and invisible to V8's external-memory
 * accounting, which made large gets pay for garbage collections. An alias holds no reference on
 * the mapping, so the mapping object stays reachable for as long as the alias is (it cannot be
 * collected, and unmapped, under a view), and the client detaches every alias (revokeAll) before
 * it closes the mapping.
 */
const aliasedMapping = new WeakMap<ArrayBuffer, NativeMapping>();

/**
 * Connect to a store. The returned client speaks the Plasma protocol like the C++ client does:
 * one request in flight per connection; open several clients for parallelism.
 */
export async function connect(socketPath: string, options: ConnectOptions = {}): Promise<PlasmaClient> {
  const spin = options.replySpinMicros ?? 50;
  if (!(Number.isFinite(spin) && spin >= 0 && spin <= 1000)) {
    throw new TypeError(`replySpinMicros must be between 0 and 1000 µs, got ${spin}`);
  }
  const connection = await Connection.open(socketPath, options.retries ?? 50, options.retryDelayMs ?? 100, spin);
  const { reply } = await connection.request({ kind: 'connect' });
  if (reply.kind !== 'connect') throw new PlasmaStoreError('unexpected reply to connect');
  return new PlasmaClient(socketPath, connection, reply.memoryCapacity);
}

/**
 * A connection to a Plasma store (plasmapool's or Arrow's own plasma_store). Every buffer it hands
 * out pins its object in the store until released; closing the client releases them all.
 */
export class PlasmaClient implements Disposable {
  private readonly segments = new Map<number, MappedSegment>();
  private readonly local: LocalObjects;
  private subscription: NotificationStream | null = null;

  /** @internal use connect(). */
  constructor(
    /** The store's Unix socket. */
    readonly socketPath: string,
    private readonly connection: Connection,
    /** The store's capacity in bytes, as its -m flag says. */
    readonly capacity: number,
  ) {
    this.local = new LocalObjects((id) => this.connection.send({ kind: 'release', objectId: id }));
    // However the connection ends, the store drops this client's pins and may reuse the memory.
    connection.onClosed(() => this.forgetEverything());
  }

  /** How many segments (region files) this connection has mapped: each is mapped once. */
  get mappedSegments(): number {
    return this.segments.size;
  }

  /** True once close() was called or the store closed the connection. */
  get closed(): boolean {
    return this.connection.closed;
  }

  // ------------------------------------------------------------ create / seal / abort

  /**
   * Create an object of `dataSize` bytes and return a writable buffer over it. Write, then seal().
   * Throws PlasmaObjectExistsError or PlasmaStoreFullError.
   */
  async create(id: ObjectId, dataSize: number, options: CreateOptions = {}): Promise<ObjectBuffer> {
    checkSize(dataSize, 'dataSize');
    const metadata = options.metadata ?? new Uint8Array(0);
    const { reply, fds } = await this.connection.request(
      {
        kind: 'create',
        objectId: id,
        evictIfFull: options.evictIfFull ?? true,
        dataSize,
        metadataSize: metadata.byteLength,
        deviceNum: 0,
      },
      (r) => (r.kind === 'create' && r.error === PlasmaError.OK && !this.segments.has(r.storeFd) ? 1 : 0),
    );
    if (reply.kind !== 'create') throw new PlasmaStoreError('unexpected reply to create');
    if (reply.error !== PlasmaError.OK) throw errorForCode(reply.error, id, dataSize + metadata.byteLength, this.capacity);
    this.mapSegments([reply.storeFd], [reply.mmapSize], fds);
    const spec = reply.object;
    if (spec.dataSize !== dataSize || spec.metadataSize !== metadata.byteLength) {
      throw new PlasmaStoreError(`the store allocated ${spec.dataSize}+${spec.metadataSize} bytes for ${id.hex}, not ${dataSize}+${metadata.byteLength}`);
    }
    // One reference for the returned buffer, one held until seal (as the C++ client counts).
    const entry = this.local.add(id, spec, false, 1);
    entry.writer = new DigestWriter(dataSize);
    const buffer = this.bufferOf(entry, true);
    if (metadata.byteLength > 0) buffer.metadata.set(metadata);
    return buffer;
  }

  /**
   * Make the object immutable and visible: computes its digest (already done as the data went in,
   * if it was all written with ObjectBuffer.write in order), then tells the store.
   */
  async seal(id: ObjectId): Promise<void> {
    const entry = this.local.get(id);
    if (!entry) throw new PlasmaStoreError(`cannot seal ${id.hex}: this client did not create it (or aborted it)`);
    if (entry.sealed) throw new PlasmaStoreError(`object ${id.hex} is already sealed`);
    const memory = this.alias(id, entry.spec);
    const data = new Uint8Array(memory, 0, entry.spec.dataSize);
    const metadata = new Uint8Array(memory, entry.spec.dataSize);
    const writer = entry.writer;
    entry.writer = null;
    const digest = writer && writer.written === data.byteLength ? writer.finish(metadata) : plasmaDigest(data, metadata);
    native.detachArrayBuffer(memory); // read only here: no view of it outlives this line
    const { reply } = await this.connection.request({ kind: 'seal', objectId: id, digest });
    if (reply.kind !== 'seal') throw new PlasmaStoreError('unexpected reply to seal');
    if (reply.error === PlasmaError.ObjectExists) {
      // Another node owns the id. The store keeps this object's memory until we release it, so
      // drop the hold taken at create: releasing the buffers now gives the memory back.
      this.local.unhold(entry);
    }
    if (reply.error !== PlasmaError.OK) throw errorForCode(reply.error, id);
    entry.sealed = true;
    this.local.unhold(entry);
  }

  /** Create and seal in one round trip, copying the bytes through the socket (best for small objects). */
  async createAndSeal(id: ObjectId, data: Uint8Array, metadata: Uint8Array = new Uint8Array(0)): Promise<void> {
    const { reply } = await this.connection.request({
      kind: 'createAndSeal',
      objectId: id,
      evictIfFull: true,
      data,
      metadata,
      digest: plasmaDigest(data, metadata),
    });
    if (reply.kind !== 'createAndSeal') throw new PlasmaStoreError('unexpected reply to createAndSeal');
    if (reply.error !== PlasmaError.OK) throw errorForCode(reply.error, id, data.byteLength + metadata.byteLength, this.capacity);
  }

  /** Create and seal many small objects at once: all or nothing. */
  async createAndSealBatch(objects: { id: ObjectId; data: Uint8Array; metadata?: Uint8Array }[]): Promise<void> {
    const metadata = objects.map((o) => o.metadata ?? new Uint8Array(0));
    const { reply } = await this.connection.request({
      kind: 'createAndSealBatch',
      objectIds: objects.map((o) => o.id),
      evictIfFull: true,
      data: objects.map((o) => o.data),
      metadata,
      digests: objects.map((o, i) => plasmaDigest(o.data, metadata[i]!)),
    });
    if (reply.kind !== 'createAndSealBatch') throw new PlasmaStoreError('unexpected reply to createAndSealBatch');
    if (reply.error !== PlasmaError.OK) throw errorForCode(reply.error, objects[0]?.id);
  }

  /**
   * Throw away an object this client created and has not sealed. Its buffers are detached (they
   * read as empty and throw ObjectReleasedError), so nothing writes into memory the store reuses.
   * The same id can be created again afterwards.
   */
  async abort(id: ObjectId): Promise<void> {
    const entry = this.local.get(id);
    if (!entry || entry.sealed) throw new PlasmaStoreError(`cannot abort ${id.hex}: it is not an unsealed object of this client`);
    this.local.revoke(entry);
    const { reply } = await this.connection.request({ kind: 'abort', objectId: id });
    if (reply.kind !== 'abort') throw new PlasmaStoreError('unexpected reply to abort');
  }

  // ------------------------------------------------------------ get / release

  /**
   * Get sealed objects: one buffer per id, or null where it is not available within the timeout.
   * Each buffer pins its object until released (explicitly, with `using`, or by garbage collection).
   */
  async get(ids: readonly ObjectId[], options: GetOptions = {}): Promise<(ObjectBuffer | null)[]> {
    const timeoutMs = options.timeoutMs ?? -1;
    if (!Number.isInteger(timeoutMs) || timeoutMs < -1) throw new TypeError(`timeoutMs must be -1, 0 or a positive integer, got ${timeoutMs}`);
    if (timeoutMs === -1 && ids.some((id) => this.local.get(id)?.sealed === false)) {
      throw new PlasmaStoreError('get with timeoutMs -1 would wait forever for an object this client created but has not sealed');
    }
    // Everything already held and sealed: answer locally, as the C++ client does.
    if (ids.every((id) => this.local.get(id)?.sealed)) {
      return ids.map((id) => this.bufferOf(this.local.get(id)!, false));
    }
    const pending = this.local.beginGet(ids);
    try {
      const { reply, fds } = await this.connection.request({ kind: 'get', objectIds: [...ids], timeoutMs }, (r) =>
        r.kind === 'get' ? r.storeFds.filter((fd) => !this.segments.has(fd)).length : 0,
      );
      if (reply.kind !== 'get') throw new PlasmaStoreError('unexpected reply to get');
      this.mapSegments(reply.storeFds, reply.mmapSizes, fds);
      return ids.map((id, i) => {
        const spec = reply.objects[i];
        if (!spec) return null;
        // The store holds one reference per client and object (§3.6); we count buffers locally.
        let entry = this.local.get(id);
        if (!entry) entry = this.local.add(id, spec, true, 0);
        entry.sealed = true;
        return this.bufferOf(entry, false);
      });
    } finally {
      this.local.endGet(pending);
    }
  }

  /** Get one object; null if not available in time. */
  async getOne(id: ObjectId, options: GetOptions = {}): Promise<ObjectBuffer | null> {
    return (await this.get([id], options))[0]!;
  }

  // ------------------------------------------------------------ other operations

  /** Delete objects; ones in use are deleted when their last reader releases them. */
  async delete(ids: readonly ObjectId[]): Promise<void> {
    if (ids.length === 0) return;
    const { reply } = await this.connection.request({ kind: 'delete', objectIds: [...ids] });
    if (reply.kind !== 'delete') throw new PlasmaStoreError('unexpected reply to delete');
  }

  /** Whether the store has this object sealed. */
  async contains(id: ObjectId): Promise<boolean> {
    if (this.local.get(id)?.sealed) return true;
    const { reply } = await this.connection.request({ kind: 'contains', objectId: id });
    if (reply.kind !== 'contains') throw new PlasmaStoreError('unexpected reply to contains');
    return reply.hasObject;
  }

  /** Every object in the store, sealed or not, with its reference count. */
  async list(): Promise<ObjectListing[]> {
    const { reply } = await this.connection.request({ kind: 'list' });
    if (reply.kind !== 'list') throw new PlasmaStoreError('unexpected reply to list');
    return reply.objects.map(listingOf);
  }

  /** Evict at least `bytes` of unpinned objects, least recently used first; returns bytes evicted. */
  async evict(bytes: number): Promise<number> {
    checkSize(bytes, 'bytes');
    const { reply } = await this.connection.request({ kind: 'evict', numBytes: bytes });
    if (reply.kind !== 'evict') throw new PlasmaStoreError('unexpected reply to evict');
    return reply.numBytes;
  }

  /** Move objects to the most-recently-used end of the store's LRU. */
  async refreshLru(ids: readonly ObjectId[]): Promise<void> {
    await this.connection.request({ kind: 'refreshLru', objectIds: [...ids] });
  }

  /** Name this client and reserve an output quota (bytes); throws if the store refuses. */
  async setOptions(clientName: string, outputMemoryQuota: number): Promise<void> {
    const { reply } = await this.connection.request({ kind: 'setOptions', clientName, outputMemoryQuota });
    if (reply.kind !== 'setOptions') throw new PlasmaStoreError('unexpected reply to setOptions');
    if (reply.error !== PlasmaError.OK) {
      throw new PlasmaStoreError(`the store refused a quota of ${outputMemoryQuota} bytes (a client may set one quota, and 30 % must stay global)`);
    }
  }

  /** The store's free-form description of its state (capacity, LRU, quotas). */
  async debugString(): Promise<string> {
    const { reply } = await this.connection.request({ kind: 'debugString' });
    if (reply.kind !== 'debugString') throw new PlasmaStoreError('unexpected reply to debugString');
    return reply.debugString;
  }

  /**
   * Subscribe to seal and deletion notifications: an async iterator that starts with every object
   * already sealed. Close it (or break out of the loop) to stop. A connection carries one
   * subscription (the store ignores a second one): connect again for another.
   */
  subscribe(): NotificationStream {
    if (this.subscription) {
      throw new PlasmaStoreError('this client already subscribed (a Plasma connection has one notification stream); connect() another client');
    }
    const [mine, theirs] = native.socketPair();
    try {
      this.connection.sendWithFd({ kind: 'subscribe' }, theirs);
    } catch (error) {
      native.closeFd(mine);
      throw error;
    } finally {
      native.closeFd(theirs);
    }
    this.subscription = new NotificationStream(mine);
    return this.subscription;
  }

  /**
   * Close the connection; the store drops every reference this client held. Buffers and tables
   * still holding objects of this client are detached (they read as empty, buffers throw
   * ObjectReleasedError), because the store may now reuse that memory. The same happens when the
   * store closes the connection.
   */
  close(): void {
    this.connection.close();
  }

  /** Same as close(): `using client = await connect(path)` closes at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ------------------------------------------------------------ internals

  private forgetEverything(): void {
    this.subscription?.close();
    this.local.revokeAll();
    for (const segment of this.segments.values()) segment.mapping.close();
    this.segments.clear();
  }

  /**
   * A new buffer over a held object, counted locally until released: its own ArrayBuffer (so
   * that release detaches exactly its views), an alias of the mapping.
   */
  private bufferOf(entry: LocalObject, writable: boolean): ObjectBuffer {
    const { id, spec } = entry;
    const memory = this.alias(id, spec);
    const { token, target } = this.local.newBuffer(entry, memory);
    return new ObjectBuffer(id, memory, spec.dataSize, spec.metadataSize, writable, target, token, writable ? this.writeTargetOf(entry) : null);
  }

  /** Writes into an unsealed object of this client, hashed in order while the digest writer lasts. */
  private writeTargetOf(entry: LocalObject): WriteTarget {
    return {
      write: (memory, source, offset) => {
        if (entry.sealed) throw new PlasmaStoreError(`object ${entry.id.hex} is sealed, and sealed objects are immutable`);
        const target = new Uint8Array(memory, offset, source.byteLength);
        const writer = entry.writer;
        if (writer && writer.written === offset) return writer.copy(target, source);
        entry.writer = null;
        target.set(source);
      },
      exposed: () => {
        entry.writer = null;
      },
    };
  }

  /** A new ArrayBuffer over an object's bytes (data then metadata): an alias of its segment's mapping. */
  private alias(id: ObjectId, spec: ObjectSpec): ArrayBuffer {
    const segment = this.segments.get(spec.segmentIndex);
    if (!segment) throw new PlasmaStoreError(`object ${id.hex} lies in segment ${spec.segmentIndex}, which the store never sent`);
    const memory = native.aliasMapping(segment.mapping, spec.dataOffset, spec.dataSize + spec.metadataSize);
    aliasedMapping.set(memory, segment.mapping);
    return memory;
  }

  /** Map the descriptors that followed a reply, in the order of the segment ids the store listed (§4.3). */
  private mapSegments(segmentIds: readonly number[], mmapSizes: readonly number[], fds: number[]): void {
    let next = 0;
    segmentIds.forEach((segmentId, i) => {
      if (this.segments.has(segmentId)) return;
      const fd = fds[next++]!;
      try {
        // §4.4: clients map mmap_size − 8 bytes from offset 0.
        this.segments.set(segmentId, { mapping: native.mapFd(fd, mmapSizes[i]! - 8, false) });
      } finally {
        native.closeFd(fd);
      }
    });
  }
}

function listingOf(info: ObjectInfo): ObjectListing {
  return {
    id: info.objectId,
    dataSize: info.dataSize,
    metadataSize: info.metadataSize,
    refCount: info.refCount,
    createTime: info.createTime,
    constructDuration: info.constructDuration,
    state: info.digest.byteLength === 0 ? 'created' : 'sealed',
    digest: info.digest,
  };
}

function checkSize(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new TypeError(`${name} must be a whole number of bytes >= 0, got ${value}`);
}

export type { Notification, Reply };
