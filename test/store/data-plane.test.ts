/**
 * The native data plane (issue 10, docs/object-table.md): Get, Release and Contains of sealed local
 * objects are answered without JavaScript, and TypeScript's policy (deferred deletes, LRU order,
 * disconnect cleanup, reference counts) still sees every pin. A real store (startStore, in this
 * process so that its counters can be read) and real clients over its Unix socket.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, ObjectId, type PlasmaClient } from '../../src/index.js';
import { native } from '../../src/native/index.js';
import { decodeReply, encodeRequest } from '../../src/protocol/client-codec.js';
import { MessageType, PlasmaError, type Reply, type Request } from '../../src/protocol/messages.js';
import { encodeReply } from '../../src/protocol/store-codec.js';
import { startStore, type StoreHandle } from '../../src/store/server.js';
import { createLogger } from '../../src/util/log.js';
import { onCleanup, tempDir } from '../helpers/processes.js';

/** A store in this process; on `regionPath` (a named, crash-consistent region) if given. */
async function store(memory = 16 << 20, regionPath?: string): Promise<StoreHandle> {
  const handle = await startStore({
    socketPath: path.join(tempDir('pp-dataplane-'), 'plasma.sock'),
    memory,
    regionPath,
    log: createLogger('test'),
  });
  onCleanup(() => handle.close());
  return handle;
}

/** A region file name in /dev/shm, removed after the test. */
function regionFile(): string {
  const file = path.join('/dev/shm', `pp-test-dataplane-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  onCleanup(() => fs.rmSync(file, { force: true }));
  return file;
}

async function client(handle: StoreHandle): Promise<PlasmaClient> {
  const c = await connect(handle.socketPath);
  onCleanup(() => c.close());
  return c;
}

async function put(c: PlasmaClient, id: ObjectId, bytes: Uint8Array): Promise<void> {
  const buffer = await c.create(id, bytes.byteLength);
  buffer.data.set(bytes);
  await c.seal(id);
  buffer.release();
}

/** Let released references reach the store (Release has no reply): one round trip after them. */
async function settle(c: PlasmaClient): Promise<void> {
  await c.list();
}

describe('native data plane', () => {
  it('answers get, release and contains of sealed local objects natively, with the right bytes', async () => {
    const handle = await store();
    const writer = await client(handle);
    const reader = await client(handle);
    const id = ObjectId.random();
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
    await put(writer, id, bytes);
    await settle(writer);
    // The reader's first get carries the region's descriptor: TypeScript answers it.
    (await reader.getOne(id))!.release();
    await settle(reader);
    const before = handle.store.nativeRequests;
    for (let i = 0; i < 10; i++) {
      const buffer = (await reader.getOne(id))!;
      expect(Buffer.from(buffer.data).equals(Buffer.from(bytes))).toBe(true);
      buffer.release();
    }
    expect(await reader.contains(id)).toBe(true);
    await settle(reader);
    // 10 gets, 10 releases, 1 contains.
    expect(handle.store.nativeRequests - before).toBe(21);
  });

  it('creates and seals natively on a single node, and TypeScript learns of both', async () => {
    const handle = await store();
    const writer = await client(handle);
    const subscriber = await client(handle);
    await put(writer, ObjectId.random(), new Uint8Array(10)); // the first create carries the descriptor
    await settle(writer);
    const before = handle.store.nativeRequests;
    const ids = [0, 1, 2].map(() => ObjectId.random());
    for (const id of ids) await put(writer, id, new Uint8Array(1000).fill(5));
    await settle(writer);
    // create, seal and release of each.
    expect(handle.store.nativeRequests - before).toBe(9);
    const listed = await subscriber.list();
    for (const id of ids) {
      const entry = listed.find((o) => o.id.equals(id));
      expect(entry, 'TypeScript lists a natively created object').toBeDefined();
      expect(entry!.refCount).toBe(0);
      expect(entry!.state).toBe('sealed');
    }
    expect(handle.store.allocated).toBe(10 + 3 * 1000);
    // A subscriber hears of a native seal before the sealing connection's next request is answered.
    const notifications = subscriber.subscribe();
    await settle(subscriber);
    const next = ObjectId.random();
    await put(writer, next, new Uint8Array(7));
    const seen: string[] = [];
    for await (const n of notifications) {
      seen.push(n.id.hex);
      if (n.id.equals(next)) break;
    }
    expect(seen).toContain(next.hex);
  });

  it('creates and seals in one request natively (CreateAndSeal), bytes and digest intact', async () => {
    const handle = await store();
    const c = await client(handle);
    const reader = await client(handle);
    await put(reader, ObjectId.random(), new Uint8Array(1)); // the reader has the descriptor
    await settle(reader);
    const before = handle.store.nativeRequests;
    const id = ObjectId.random();
    const data = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
    const metadata = Uint8Array.from([9, 8, 7]);
    await c.createAndSeal(id, data, metadata);
    expect(handle.store.nativeRequests - before).toBe(1);
    const buffer = (await reader.getOne(id))!;
    expect(Buffer.from(buffer.data).equals(Buffer.from(data))).toBe(true);
    expect(Array.from(buffer.metadata)).toEqual([9, 8, 7]);
    buffer.release();
    const listed = (await reader.list()).find((o) => o.id.equals(id))!;
    expect(listed.state).toBe('sealed');
    expect(listed.refCount).toBe(0);
    // The same id again: TypeScript answers ObjectExists.
    await expect(c.createAndSeal(id, data)).rejects.toThrow();
  });

  it('wakes a waiting get with a native seal at once', async () => {
    const handle = await store();
    const writer = await client(handle);
    const reader = await client(handle);
    await put(writer, ObjectId.random(), new Uint8Array(10));
    await settle(writer);
    const id = ObjectId.random();
    const started = Date.now();
    const waiting = reader.getOne(id, { timeoutMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 50)); // the get is waiting in TypeScript
    const before = handle.store.nativeRequests;
    await put(writer, id, new Uint8Array(64).fill(6));
    const buffer = await waiting;
    expect(buffer).not.toBeNull();
    expect(buffer!.data[63]).toBe(6);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The create and the seal were native.
    expect(handle.store.nativeRequests - before).toBeGreaterThanOrEqual(2);
    buffer!.release();
  });

  it('leaves the creates of a client with a quota to TypeScript', async () => {
    const handle = await store();
    const c = await client(handle);
    await put(c, ObjectId.random(), new Uint8Array(10));
    await c.setOptions('with-quota', 4 << 20);
    await settle(c);
    const before = handle.store.nativeRequests;
    const id = ObjectId.random();
    const buffer = await c.create(id, 100);
    await c.seal(id);
    // Both are TypeScript's: the quota's LRU owns the object from its create on, and an object
    // TypeScript created is sealed where its entry is.
    expect(handle.store.nativeRequests - before).toBe(0);
    const debug = await c.debugString();
    expect(debug).toContain('(with-quota) num objects: 1');
    buffer.release();
    await settle(c);
    // Released, a quota-owned object stays in its owner's LRU, not the global one.
    expect(await c.debugString()).toContain('(with-quota) num objects: 1');
  });

  it('counts native pins in the reference counts TypeScript reports and decides with', async () => {
    const handle = await store();
    const writer = await client(handle);
    const reader = await client(handle);
    const id = ObjectId.random();
    await put(writer, id, new Uint8Array(100).fill(1));
    (await reader.getOne(id))!.release();
    await settle(reader);
    const held = (await reader.getOne(id))!;
    const listed = (await writer.list()).find((o) => o.id.equals(id));
    expect(listed?.refCount).toBe(1);
    // In use: the delete is deferred until the last native release (§3.8).
    await writer.delete([id]);
    expect(await writer.contains(id)).toBe(true);
    held.release();
    // The same connection's next request already sees the deferred delete done (native contains).
    expect(await reader.contains(id)).toBe(false);
    expect(await writer.contains(id)).toBe(false);
  });

  it('a disconnected client leaves no native pins behind', async () => {
    const handle = await store();
    const writer = await client(handle);
    const reader = await connect(handle.socketPath);
    const id = ObjectId.random();
    await put(writer, id, new Uint8Array(100).fill(2));
    (await reader.getOne(id))!.release();
    await settle(reader);
    const nativeBefore = handle.store.nativeRequests;
    await reader.getOne(id); // held natively, never released
    expect(handle.store.nativeRequests).toBe(nativeBefore + 1);
    reader.close();
    for (let i = 0; i < 50 && (await writer.list()).find((o) => o.id.equals(id))?.refCount !== 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await writer.delete([id]);
    expect(await writer.contains(id)).toBe(false);
  });

  it('keeps LRU order: an object read natively is evicted after ones not read since', async () => {
    const object = 3 << 20;
    const handle = await store(4 * object);
    const c = await client(handle);
    const ids = [0, 1, 2, 3].map(() => ObjectId.random());
    for (const id of ids) await put(c, id, new Uint8Array(object).fill(3));
    await settle(c);
    const before = handle.store.nativeRequests;
    // Touch the oldest: it becomes the most recently used.
    (await c.getOne(ids[0]!))!.release();
    await settle(c);
    expect(handle.store.nativeRequests - before).toBe(2);
    // One more object needs room: the least recently used (ids[1]) goes, not ids[0].
    await put(c, ObjectId.random(), new Uint8Array(object).fill(4));
    expect(await c.contains(ids[0]!)).toBe(true);
    expect(await c.contains(ids[1]!)).toBe(false);
  });

  it('evicts natively for a create that needs room: what TypeScript would evict, counted where stat and the debug string look', async () => {
    const object = 1 << 20;
    const handle = await store(10 * object); // a fifth of it is two objects
    const c = await client(handle);
    const ids = Array.from({ length: 10 }, () => ObjectId.random());
    for (const id of ids) await put(c, id, new Uint8Array(object).fill(1));
    (await c.getOne(ids[0]!))!.release(); // the oldest becomes the most recently used
    await settle(c);
    let before = handle.store.nativeRequests;
    await put(c, ObjectId.random(), new Uint8Array(object).fill(2));
    await settle(c);
    // Create (with its eviction), Seal and Release, all three native.
    expect(handle.store.nativeRequests - before).toBe(3);
    // §9: at least a fifth of the capacity, least recently used first: ids[1] and ids[2].
    const present = await Promise.all(ids.map((id) => c.contains(id)));
    expect(present).toEqual([true, false, false, true, true, true, true, true, true, true]);
    expect(handle.store.counters.evictions).toBe(2);
    expect(handle.store.counters.evictedBytes).toBe(2 * object);
    expect(handle.store.allocated).toBe(9 * object);
    expect(await c.debugString()).toContain('(global lru) num evictions: 2');
    // With a subscriber the evictions are TypeScript's: it sends their deletion notifications.
    const listener = await client(handle);
    const notifications = listener.subscribe();
    await settle(listener);
    await put(c, ObjectId.random(), new Uint8Array(object).fill(3));
    await put(c, ObjectId.random(), new Uint8Array(object).fill(4));
    const gone = new Set<string>();
    for await (const n of notifications) {
      if (n.deleted) gone.add(n.id.hex);
      if (gone.size === 2) break;
    }
    expect([...gone].sort()).toEqual([ids[3]!.hex, ids[4]!.hex].sort());
    expect(handle.store.counters.evictions).toBe(4);
    expect(await c.debugString()).toContain('(global lru) num evictions: 4');
    // No room and nothing to evict: TypeScript's OutOfMemory, as before.
    before = handle.store.nativeRequests;
    const pinned = await Promise.all(ids.slice(5).map((id) => c.getOne(id)));
    await expect(c.create(ObjectId.random(), 11 * object)).rejects.toThrow();
    for (const buffer of pinned) buffer!.release();
  });

  it('leaves waiting gets and unknown releases to TypeScript, and answers a missing id at once itself', async () => {
    const handle = await store();
    const c = await client(handle);
    const known = ObjectId.random();
    await put(c, known, new Uint8Array(10));
    (await c.getOne(known))!.release();
    await settle(c);
    const before = handle.store.nativeRequests;
    const missing = ObjectId.random();
    // A single store without an external store: no record means no object (native).
    expect(await c.contains(missing)).toBe(false);
    // One id missing: the whole get waits in TypeScript, then answers.
    const [a, b] = await c.get([known, missing], { timeoutMs: 20 });
    expect(a).not.toBeNull();
    expect(b).toBeNull();
    a!.release();
    await settle(c);
    // The contains of `missing` and the release of `known` were native.
    expect(handle.store.nativeRequests - before).toBe(2);
    // A get that answers at once needs no waiting: native, "not available" where nothing is.
    const beforeImmediate = handle.store.nativeRequests;
    const [found, absent] = await c.get([known, missing], { timeoutMs: 0 });
    expect(found).not.toBeNull();
    expect(Buffer.from(found!.data).equals(Buffer.alloc(10))).toBe(true);
    expect(absent).toBeNull();
    found!.release();
    await settle(c);
    expect(handle.store.nativeRequests - beforeImmediate).toBe(2); // the get and the release
    // A connection without the region's descriptor: nothing found needs none (native); an object
    // found does, and TypeScript sends it.
    const fresh = await client(handle);
    const beforeFresh = handle.store.nativeRequests;
    expect(await fresh.get([missing], { timeoutMs: 0 })).toEqual([null]);
    expect(handle.store.nativeRequests - beforeFresh).toBe(1);
    const [viaTs] = await fresh.get([known, missing], { timeoutMs: 0 });
    expect(Buffer.from(viaTs!.data).equals(Buffer.alloc(10))).toBe(true);
    expect(handle.store.nativeRequests - beforeFresh).toBe(1);
    viaTs!.release();
    // An unsealed object is not contained either; the answer comes without TypeScript too.
    const unsealed = ObjectId.random();
    const buffer = await c.create(unsealed, 4);
    const beforeUnsealed = handle.store.nativeRequests;
    expect(await c.contains(unsealed)).toBe(false);
    expect(handle.store.nativeRequests - beforeUnsealed).toBe(1);
    await c.seal(unsealed);
    expect(await c.contains(unsealed)).toBe(true);
    buffer.release();
  });

  it('keeps no TypeScript entry for a sealed object: lookups, listings, stats and refcounts ask the native table', async () => {
    const handle = await store();
    const writer = await client(handle);
    const reader = await client(handle);
    const ids = Array.from({ length: 20 }, () => ObjectId.random());
    for (const id of ids) await put(writer, id, new Uint8Array(100).fill(2));
    await settle(writer);
    for (const id of ids) expect(handle.store.objects.entry(id.hex), 'no TypeScript entry').toBeUndefined();
    expect(handle.store.objects.get(ids[0]!.hex)?.state).toBe('sealed');
    expect(handle.store.objects.size).toBe(20);
    expect(handle.store.stats().objects).toBe(20);
    const held = (await reader.getOne(ids[3]!))!;
    await settle(reader);
    const listed = await writer.list();
    expect(listed).toHaveLength(20);
    expect(listed.find((o) => o.id.equals(ids[3]!))!.refCount).toBe(1);
    expect(listed.find((o) => o.id.equals(ids[4]!))!.refCount).toBe(0);
    // Deleted while read: kept until the reader lets go, then gone before its next request.
    await writer.delete([ids[3]!]);
    expect(await writer.contains(ids[3]!)).toBe(true);
    held.release();
    expect(await reader.contains(ids[3]!)).toBe(false);
    // The global LRU is the native table's: debug string counts and evict order come from it.
    expect(await writer.debugString()).toContain('(global lru) num objects: 19');
    expect(await writer.evict(150)).toBe(200);
    expect(await writer.contains(ids[0]!)).toBe(false);
    expect(await writer.contains(ids[1]!)).toBe(false);
    expect(await writer.contains(ids[2]!)).toBe(true);
  });

  it('serves Abort, Delete and CreateAndSealBatch natively, with the effects TypeScript would have', async () => {
    const handle = await store();
    const c = await client(handle);
    const reader = await client(handle);
    await put(c, ObjectId.random(), new Uint8Array(10)); // the descriptor
    await put(reader, ObjectId.random(), new Uint8Array(10));
    await settle(c);
    const allocated = handle.store.allocated;
    let before = handle.store.nativeRequests;
    // Abort: the memory is back, and the id can be created again.
    const aborted = ObjectId.random();
    await c.create(aborted, 500);
    await c.abort(aborted);
    expect(handle.store.nativeRequests - before).toBe(2);
    expect(handle.store.allocated).toBe(allocated);
    expect(await c.contains(aborted)).toBe(false);
    await put(c, aborted, new Uint8Array(5).fill(1));
    await settle(c);
    // CreateAndSealBatch: all sealed, bytes intact, one request.
    const batch = [1, 2, 3].map((n) => ({ id: ObjectId.random(), data: new Uint8Array(64 * n).fill(n), metadata: Uint8Array.from([n]) }));
    before = handle.store.nativeRequests;
    await c.createAndSealBatch(batch);
    expect(handle.store.nativeRequests - before).toBe(1);
    for (const { id, data } of batch) {
      const buffer = (await reader.getOne(id))!;
      expect(Buffer.from(buffer.data).equals(Buffer.from(data))).toBe(true);
      buffer.release();
    }
    await settle(reader);
    // An id already there: TypeScript answers ObjectExists, and nothing of the batch stays.
    const fresh = ObjectId.random();
    await expect(c.createAndSealBatch([{ id: fresh, data: new Uint8Array(8) }, { id: batch[0]!.id, data: new Uint8Array(8) }])).rejects.toThrow();
    expect(await c.contains(fresh)).toBe(false);
    // Delete: unpinned ones go at once, in one native request.
    const withBatch = handle.store.allocated;
    before = handle.store.nativeRequests;
    await c.delete(batch.map((o) => o.id));
    expect(handle.store.nativeRequests - before).toBe(1);
    expect(handle.store.allocated).toBe(withBatch - (64 + 128 + 192 + 3));
    for (const { id } of batch) expect(await c.contains(id)).toBe(false);
    // With a subscriber, deletions are TypeScript's: it sends the notification.
    const listener = await client(handle);
    const notifications = listener.subscribe();
    await settle(listener);
    before = handle.store.nativeRequests;
    await c.delete([aborted]);
    expect(handle.store.nativeRequests - before).toBe(0);
    for await (const n of notifications) {
      if (n.id.equals(aborted) && n.deleted) break;
    }
  });

  it('on a named region, creates, seals and deletes natively, and writes the index record of every seal', async () => {
    const file = regionFile();
    const open = () => store(16 << 20, file);
    const first = await open();
    const c = await client(first);
    await put(c, ObjectId.random(), new Uint8Array(10)); // the descriptor
    await settle(c);
    const before = first.store.nativeRequests;
    const kept = [1, 2, 3].map((n) => ({ id: ObjectId.random(), data: new Uint8Array(100 * n).fill(n) }));
    for (const { id, data } of kept.slice(0, 2)) await put(c, id, data);
    await c.createAndSeal(kept[2]!.id, kept[2]!.data);
    const gone = ObjectId.random();
    await c.createAndSeal(gone, new Uint8Array(50));
    await c.delete([gone]);
    await settle(c);
    // create, seal, release twice; two CreateAndSeals; one delete.
    expect(first.store.nativeRequests - before).toBe(9);
    c.close();
    await first.close();
    // Started again on the region: what the index holds is what was sealed and not deleted.
    const second = await open();
    const reader = await client(second);
    for (const { id, data } of kept) {
      const buffer = (await reader.getOne(id, { timeoutMs: 0 }))!;
      expect(Buffer.from(buffer.data).equals(Buffer.from(data))).toBe(true);
      buffer.release();
    }
    expect(await reader.contains(gone)).toBe(false);
    expect((await reader.list()).length).toBe(4);
  });

  it('on a named region, an object evicted natively leaves the index: a restart does not bring it back', async () => {
    const file = regionFile();
    const object = 1 << 20;
    const open = () => store(10 * object, file);
    const first = await open();
    const c = await client(first);
    const ids = Array.from({ length: 11 }, () => ObjectId.random());
    for (const [n, id] of ids.slice(0, 10).entries()) await put(c, id, new Uint8Array(object).fill(n));
    await settle(c);
    const before = first.store.nativeRequests;
    // Half an object more needs room: a fifth of the capacity goes, least recently used first.
    // Most of the evicted bytes stay as they were, so only the index decides what comes back.
    await put(c, ids[10]!, new Uint8Array(object / 2).fill(10));
    await settle(c);
    expect(first.store.nativeRequests - before).toBe(3); // create (evicting), seal, release
    expect(first.store.counters.evictions).toBe(2);
    const evicted = ids.slice(0, 2);
    const kept = ids.slice(2);
    c.close();
    await first.close();
    const second = await open();
    const reader = await client(second);
    for (const id of evicted) expect(await reader.contains(id)).toBe(false);
    for (const id of kept) {
      const buffer = (await reader.getOne(id, { timeoutMs: 0 }))!;
      expect(buffer.data[0]).toBe(ids.indexOf(id));
      buffer.release();
    }
    expect((await reader.list()).length).toBe(kept.length);
  });

  it('answers every native request with the very bytes TypeScript would send', async () => {
    const handle = await store();
    const channel = native.connect(handle.socketPath, 'plasma');
    const replies: { type: number; body: Uint8Array }[] = [];
    let wake = () => {};
    channel.start({
      onFrame: (type, body) => {
        replies.push({ type, body: Uint8Array.from(body) });
        wake();
      },
      onFd: (fd) => native.closeFd(fd),
      onClose: () => wake(),
    });
    onCleanup(() => channel.close());
    const ask = async (request: Request): Promise<{ type: number; body: Uint8Array }> => {
      const before = replies.length;
      const { type, body } = encodeRequest(request);
      channel.sendFrame(type, body);
      while (replies.length === before) await new Promise<void>((resolve) => (wake = resolve));
      return replies[before]!;
    };
    // Through TypeScript first: the connection receives the region's descriptor.
    const first = ObjectId.random();
    await ask({ kind: 'create', objectId: first, evictIfFull: false, dataSize: 8, metadataSize: 0, deviceNum: 0 });
    // Byte for byte: the native encoder follows store-codec.ts's builder calls (native/src/flat_builder.h).
    const same = (got: { type: number; body: Uint8Array }, want: Reply) => {
      const encoded = encodeReply(want);
      expect(got.type).toBe(encoded.type);
      expect(Buffer.from(got.body).toString('hex')).toBe(Buffer.from(encoded.body).toString('hex'));
    };
    // For replies whose values the store chooses (offsets, segment, mapping size): TypeScript's
    // encoding of what the native reply says must be the native reply itself.
    const selfConsistent = (got: { type: number; body: Uint8Array }) => same(got, decodeReply(got.type, got.body) as Reply);
    const before = handle.store.nativeRequests;
    const aborted = ObjectId.random();
    await ask({ kind: 'create', objectId: aborted, evictIfFull: false, dataSize: 16, metadataSize: 0, deviceNum: 0 });
    same(await ask({ kind: 'abort', objectId: aborted }), { kind: 'abort', objectId: aborted });
    const ids = [ObjectId.random(), ObjectId.random()];
    const batch: Request = {
      kind: 'createAndSealBatch',
      objectIds: ids,
      evictIfFull: false,
      data: [new Uint8Array(10), new Uint8Array(3)],
      metadata: [new Uint8Array(0), new Uint8Array(1)],
      digests: [new Uint8Array(8), new Uint8Array(8)],
    };
    same(await ask(batch), { kind: 'createAndSealBatch', error: PlasmaError.OK });
    const unsealed = ObjectId.random();
    await ask({ kind: 'create', objectId: unsealed, evictIfFull: false, dataSize: 4, metadataSize: 0, deviceNum: 0 });
    const gone = [ids[0]!, unsealed, ids[0]!];
    same(await ask({ kind: 'delete', objectIds: gone }), {
      kind: 'delete',
      objectIds: gone,
      errors: [PlasmaError.OK, PlasmaError.ObjectNotSealed, PlasmaError.ObjectNotFound],
    });
    // Create (with metadata), Seal, Get of one and of repeated ids, Contains, CreateAndSeal.
    const sealed = ObjectId.random();
    selfConsistent(await ask({ kind: 'create', objectId: sealed, evictIfFull: false, dataSize: 100, metadataSize: 3, deviceNum: 0 }));
    same(await ask({ kind: 'seal', objectId: sealed, digest: new Uint8Array(8) }), { kind: 'seal', objectId: sealed, error: PlasmaError.OK });
    selfConsistent(await ask({ kind: 'get', objectIds: [sealed], timeoutMs: 0 }));
    selfConsistent(await ask({ kind: 'get', objectIds: [sealed, ids[1]!, sealed], timeoutMs: 0 }));
    same(await ask({ kind: 'contains', objectId: sealed }), { kind: 'contains', objectId: sealed, hasObject: true });
    same(await ask({ kind: 'contains', objectId: unsealed }), { kind: 'contains', objectId: unsealed, hasObject: false });
    const never = ObjectId.random();
    same(await ask({ kind: 'contains', objectId: never }), { kind: 'contains', objectId: never, hasObject: false });
    // Gets that answer at once, with positions not available (§3.6): none found lists no segment.
    const partly = await ask({ kind: 'get', objectIds: [sealed, never, unsealed], timeoutMs: 0 });
    selfConsistent(partly);
    expect((decodeReply(partly.type, partly.body) as Extract<Reply, { kind: 'get' }>).objects.map((o) => o !== null)).toEqual([true, false, false]);
    const none = await ask({ kind: 'get', objectIds: [never], timeoutMs: -5 });
    same(none, { kind: 'get', objectIds: [never], objects: [null], storeFds: [], mmapSizes: [] });
    const single = ObjectId.random();
    same(
      await ask({ kind: 'createAndSeal', objectId: single, evictIfFull: false, data: new Uint8Array(5), metadata: new Uint8Array(0), digest: new Uint8Array(8) }),
      { kind: 'createAndSeal', error: PlasmaError.OK },
    );
    // All fifteen native: create, abort, batch, create, delete, create, seal, four gets, three
    // contains (sealed, unsealed, never created), createAndSeal.
    expect(handle.store.nativeRequests - before).toBe(15);
    expect(replies.every((r) => r.type !== MessageType.ConnectReply)).toBe(true);
  });
});
