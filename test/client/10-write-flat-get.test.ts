/**
 * Bulk writes and flat gets (issue 10): ObjectBuffer.write copies into the object and computes
 * the seal digest as it goes, and the digest the store keeps is the Plasma digest (§6) however the
 * data was written; get hands out buffers that alias the connection's one mapping (no per-object
 * mmap, no copy) without V8 counting them as external memory (which made large gets pay for
 * garbage collections); release still detaches them.
 */
import { constants, PerformanceObserver } from 'node:perf_hooks';
import xxhash from 'xxhash-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { ObjectId, ObjectReleasedError, PlasmaStoreError, type PlasmaClient } from '../../src/index.js';
import { native } from '../../src/native/index.js';
import { tempDir } from '../helpers/processes.js';
import { collectUntil, mappingCount, mappingsOf, storeWithClient, within } from './support.js';

const MiB = 1 << 20;
let h64: (bytes: Uint8Array) => bigint;

beforeAll(async () => {
  const raw = await xxhash();
  h64 = (bytes) => raw.h64Raw(bytes, 0n);
});

function le64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
}

/** §6 the long way, from xxhash-wasm one-shot hashes (independent of the native digest). */
function referenceDigest(data: Uint8Array, metadata: Uint8Array): Uint8Array {
  const concat = (...parts: Uint8Array[]) => Uint8Array.from(Buffer.concat(parts));
  if (data.byteLength < MiB) return le64(h64(concat(data, metadata)));
  const chunk = Math.floor(Math.floor(data.byteLength / 64) / 8) * 64;
  const partials = Array.from({ length: 9 }, (_, i) => le64(h64(data.subarray(i * chunk, i < 8 ? (i + 1) * chunk : data.byteLength))));
  return le64(h64(concat(...partials, metadata)));
}

function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

async function storedDigest(client: PlasmaClient, id: ObjectId): Promise<Uint8Array | undefined> {
  const digest = (await client.list()).find((o) => o.id.hex === id.hex)?.digest;
  return digest && Uint8Array.from(digest);
}

describe('ObjectBuffer.write', () => {
  it.each([
    ['in one write', 3 * MiB + 7, [3 * MiB + 7]],
    ['in pieces across the chunk boundaries', 3 * MiB + 7, [100_000, 1]],
    ['in one write, below 1 MiB', 1000, [1000]],
    ['nothing (empty data)', 0, [1]],
  ])('%s: the stored digest is the Plasma digest of the bytes (%i bytes)', async (_, size, pieces) => {
    const { client } = await storeWithClient('64MiB');
    const id = ObjectId.random();
    const data = pattern(size, size + 1);
    const metadata = pattern(13, 2);
    const object = await client.create(id, size, { metadata });
    let at = 0;
    for (let i = 0; at < size; i++) {
      const n = Math.min(pieces[i % pieces.length]!, size - at);
      object.write(data.subarray(at, at + n), at);
      at += n;
    }
    await client.seal(id);
    object.release();
    expect(await storedDigest(client, id)).toEqual(referenceDigest(data, metadata));
    const got = (await client.getOne(id))!;
    expect(Buffer.compare(got.data, data)).toBe(0);
    expect(Buffer.compare(got.metadata, metadata)).toBe(0);
  });

  it('writes out of order, or through a data view, still seal with the digest of the final bytes', async () => {
    const { client } = await storeWithClient('64MiB');
    const size = 2 * MiB + 100;
    const data = pattern(size, 7);

    const backwards = ObjectId.random();
    const a = await client.create(backwards, size);
    a.write(data.subarray(MiB), MiB);
    a.write(data.subarray(0, MiB), 0);
    await client.seal(backwards);
    expect(await storedDigest(client, backwards)).toEqual(referenceDigest(data, new Uint8Array(0)));

    const viewed = ObjectId.random();
    const b = await client.create(viewed, size);
    b.write(data); // hashed in order...
    b.data[5] = data[5]! ^ 0xff; // ...then changed through a view: seal must hash the object again
    const changed = Uint8Array.from(data);
    changed[5] = data[5]! ^ 0xff;
    await client.seal(viewed);
    expect(await storedDigest(client, viewed)).toEqual(referenceDigest(changed, new Uint8Array(0)));

    const overwritten = ObjectId.random();
    const c = await client.create(overwritten, size);
    c.write(pattern(size, 99));
    c.write(data.subarray(0, 10), 0);
    await client.seal(overwritten);
    const expected = pattern(size, 99);
    expected.set(data.subarray(0, 10), 0);
    expect(await storedDigest(client, overwritten)).toEqual(referenceDigest(expected, new Uint8Array(0)));
  });

  it('refuses writes outside the data, into a got buffer, after seal and after release', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    const object = await client.create(id, 100, { metadata: Uint8Array.from([1, 2]) });
    expect(() => object.write(new Uint8Array(101))).toThrow(/does not fit in the 100 bytes of data/);
    expect(() => object.write(new Uint8Array(1), 100)).toThrow(RangeError);
    expect(() => object.write(new Uint8Array(1), -1)).toThrow(RangeError);
    object.write(new Uint8Array(100).fill(4));
    await client.seal(id);
    expect(() => object.write(new Uint8Array(1))).toThrow(/sealed objects are immutable/);
    const got = (await client.getOne(id))!;
    expect(() => got.write(new Uint8Array(1))).toThrow(PlasmaStoreError);
    expect(() => got.write(new Uint8Array(1))).toThrow(/not writable/);
    object.release();
    expect(() => object.write(new Uint8Array(1))).toThrow(ObjectReleasedError);
    expect([...got.metadata]).toEqual([1, 2]);
  });
});

describe('flat gets', () => {
  it('buffers of many gets alias the one mapping of the region: no mmap and no copy per object', async () => {
    const { store, client } = await storeWithClient('64MiB');
    const ids = Array.from({ length: 20 }, () => ObjectId.random());
    for (const [i, id] of ids.entries()) await client.createAndSeal(id, new Uint8Array(100_000).fill(i));
    const other = await (await import('./support.js')).connectClient(store.socketPath);
    const buffers = [];
    for (const id of ids) buffers.push((await other.getOne(id))!);
    expect(mappingCount(store.regionPath)).toBe(1); // both clients are in this process: one mapping each would be 2
    const ranges = mappingsOf(store.regionPath);
    for (const [i, buffer] of buffers.entries()) {
      expect(within(ranges, native.addressOf(buffer.data), buffer.dataSize)).toBe(true);
      expect(buffer.data[99_999]).toBe(i);
      expect(buffer.buffer.byteLength).toBe(100_000);
    }
  });

  it('getting and releasing a 100 MB object again and again starts no garbage collection', async () => {
    const { client } = await storeWithClient('256MiB');
    const id = ObjectId.random();
    const object = await client.create(id, 100e6);
    object.write(new Uint8Array(100e6).fill(3));
    await client.seal(id);
    object.release();
    const reader = await (await import('./support.js')).connectClient(client.socketPath);
    (await reader.getOne(id))!.release(); // maps the region (the window is made once)
    await collectUntil(() => true, 1); // start from a collected heap
    // Full collections and incremental marking only: a scavenge of the young generation can come
    // from any allocation and says nothing about external memory.
    const full = new Set([constants.NODE_PERFORMANCE_GC_MAJOR, constants.NODE_PERFORMANCE_GC_INCREMENTAL]);
    const collections: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
        if (kind !== undefined && full.has(kind)) collections.push(kind);
      }
    });
    observer.observe({ entryTypes: ['gc'] });
    const views = [];
    for (let i = 0; i < 30; i++) {
      const buffer = (await reader.getOne(id))!;
      views.push(buffer.data.subarray(99_999_990));
      buffer.release();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    observer.disconnect();
    // Before the buffers were aliases, V8 counted each as 100 MB of new external memory and ran a
    // mark-compact every second or third get ("external memory pressure").
    expect(collections.length).toBeLessThanOrEqual(1);
    // Released: every view reads as empty, not as memory the store may reuse.
    expect(views.every((v) => v.byteLength === 0)).toBe(true);
  });

  it('aliasMapping checks its arguments: a NativeMapping, a range inside it, not closed', async () => {
    const fs = await import('node:fs');
    const file = (await import('node:path')).join(tempDir(), 'mapped');
    fs.writeFileSync(file, new Uint8Array(1 << 20));
    const fd = fs.openSync(file, 'r+');
    try {
      const mapping = native.mapFd(fd, 1 << 20, false);
      expect(() => native.aliasMapping({} as never, 0, 1)).toThrow(/must be a NativeMapping/);
      expect(() => native.aliasMapping(mapping, (1 << 20) - 1, 2)).toThrow(RangeError);
      const alias = native.aliasMapping(mapping, 4096, 64);
      expect(alias.byteLength).toBe(64);
      expect(native.addressOf(alias)).toBe(mapping.address() + 4096n);
      native.detachArrayBuffer(alias);
      expect(alias.byteLength).toBe(0);
      mapping.close();
      expect(() => native.aliasMapping(mapping, 0, 1)).toThrow(/the mapping is closed/);
    } finally {
      fs.closeSync(fd);
    }
  });
});
