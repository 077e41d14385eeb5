/**
 * Creating objects: two-phase create (writable view) + seal, createAndSeal, createAndSealBatch,
 * abort; against a real store process, checked from a second client.
 */
import { describe, expect, it } from 'vitest';
import {
  ObjectId,
  ObjectReleasedError,
  PlasmaObjectExistsError,
  PlasmaStoreError,
  PlasmaStoreFullError,
} from '../../src/index.js';
import { connectClient, refCountOf, storeWithClient, waitFor } from './support.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('create and seal', () => {
  it('create returns a writable view of the object; seal makes it visible to others', async () => {
    const { store, client } = await storeWithClient();
    const other = await connectClient(store.socketPath);
    const id = ObjectId.random();
    const buffer = await client.create(id, 1000, { metadata: bytes(9, 8, 7) });
    expect(buffer.writable).toBe(true);
    expect(buffer.data.byteLength).toBe(1000);
    expect([...buffer.metadata]).toEqual([9, 8, 7]);
    for (let i = 0; i < 1000; i++) buffer.data[i] = i % 251;

    // Unsealed: listed as created, pinned by its creator, invisible to get and contains.
    const listed = (await other.list()).find((o) => o.id.equals(id))!;
    expect(listed).toMatchObject({ dataSize: 1000, metadataSize: 3, refCount: 1, state: 'created', constructDuration: -1 });
    expect(Math.abs(listed.createTime - Date.now() / 1000)).toBeLessThan(5);
    expect(await other.contains(id)).toBe(false);
    expect(await other.get([id], { timeoutMs: 0 })).toEqual([null]);

    await client.seal(id);
    expect(await other.contains(id)).toBe(true);
    const [seen] = await other.get([id]);
    expect(seen!.writable).toBe(false);
    expect(seen!.data).toEqual(Uint8Array.from({ length: 1000 }, (_, i) => i % 251));
    expect([...seen!.metadata]).toEqual([9, 8, 7]);
    const sealed = (await other.list()).find((o) => o.id.equals(id))!;
    expect(sealed).toMatchObject({ state: 'sealed', refCount: 2 });
    expect(sealed.constructDuration).toBeGreaterThanOrEqual(0); // whole seconds from create to seal
    expect(sealed.constructDuration).toBeLessThanOrEqual(5);

    buffer.release();
    seen!.release();
    // `other`'s Release precedes its List on one connection; `client`'s travels on another, and
    // nothing orders the two connections at the store: wait for it.
    expect(await waitFor(async () => (await refCountOf(other, id.hex)) === 0)).toBe(true);
  });

  it('a zero-size object is legal', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    const buffer = await client.create(id, 0);
    await client.seal(id);
    buffer.release();
    const [got] = await client.get([id]);
    expect(got!.data.byteLength).toBe(0);
    expect(got!.metadata.byteLength).toBe(0);
  });

  it('create refuses an existing id and an object larger than the store, naming the fix', async () => {
    const { client } = await storeWithClient('16MiB');
    const id = ObjectId.random();
    (await client.create(id, 10)).release();
    await expect(client.create(id, 10)).rejects.toThrow(PlasmaObjectExistsError);
    await client.seal(id);
    await expect(client.create(id, 10)).rejects.toThrow(/already exists/);
    const huge = client.create(ObjectId.random(), 32 * 1024 * 1024);
    await expect(huge).rejects.toThrow(PlasmaStoreFullError);
    await expect(client.create(ObjectId.random(), 32 * 1024 * 1024)).rejects.toThrow(/needs 32.*-m/);
    await expect(client.create(ObjectId.random(), -1)).rejects.toThrow(TypeError);
  });

  it('seal refuses objects this client did not create and objects already sealed', async () => {
    const { client } = await storeWithClient();
    await expect(client.seal(ObjectId.random())).rejects.toThrow(/did not create it/);
    const id = ObjectId.random();
    (await client.create(id, 4)).release();
    await client.seal(id);
    await expect(client.seal(id)).rejects.toThrow(PlasmaStoreError);
  });

  it('the creator holds one reference until it releases the create buffer after seal', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    const buffer = await client.create(id, 8);
    await client.seal(id);
    expect(await refCountOf(client, id.hex)).toBe(1);
    buffer.release();
    expect(await refCountOf(client, id.hex)).toBe(0);
  });
});

describe('createAndSeal', () => {
  it('creates and seals in one round trip, with metadata', async () => {
    const { store, client } = await storeWithClient();
    const other = await connectClient(store.socketPath);
    const id = ObjectId.random();
    await client.createAndSeal(id, bytes(1, 2, 3, 4), bytes(42));
    const [got] = await other.get([id], { timeoutMs: 0 });
    expect([...got!.data]).toEqual([1, 2, 3, 4]);
    expect([...got!.metadata]).toEqual([42]);
    // The creator keeps no reference: only the reader's.
    expect(await refCountOf(client, id.hex)).toBe(1);
    await expect(client.createAndSeal(id, bytes(1))).rejects.toThrow(PlasmaObjectExistsError);
  });

  it('maps nothing: the bytes travel through the socket', async () => {
    const { client } = await storeWithClient();
    await client.createAndSeal(ObjectId.random(), bytes(1));
    expect(client.mappedSegments).toBe(0);
  });
});

describe('createAndSealBatch', () => {
  it('creates and seals every object', async () => {
    const { client } = await storeWithClient();
    const ids = Array.from({ length: 5 }, () => ObjectId.random());
    await client.createAndSealBatch(ids.map((id, i) => ({ id, data: bytes(i, i + 1), metadata: i % 2 ? bytes(i) : undefined })));
    const got = await client.get(ids, { timeoutMs: 0 });
    got.forEach((buffer, i) => {
      expect([...buffer!.data]).toEqual([i, i + 1]);
      expect([...buffer!.metadata]).toEqual(i % 2 ? [i] : []);
    });
  });

  it('is all or nothing: one existing id fails the batch and creates none of it', async () => {
    const { client } = await storeWithClient();
    const existing = ObjectId.random();
    await client.createAndSeal(existing, bytes(0));
    const fresh = [ObjectId.random(), ObjectId.random()];
    await expect(
      client.createAndSealBatch([
        { id: fresh[0]!, data: bytes(1) },
        { id: existing, data: bytes(2) },
        { id: fresh[1]!, data: bytes(3) },
      ]),
    ).rejects.toThrow(PlasmaObjectExistsError);
    const listed = (await client.list()).map((o) => o.id.hex);
    expect(listed).toEqual([existing.hex]);
  });
});

describe('abort', () => {
  it('frees an unsealed object; the id can be created again', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    (await client.create(id, 100)).release();
    await client.abort(id);
    expect(await client.list()).toEqual([]);
    const again = await client.create(id, 5);
    again.data.set(bytes(5, 4, 3, 2, 1));
    await client.seal(id);
    again.release();
    expect([...(await client.getOne(id))!.data]).toEqual([5, 4, 3, 2, 1]);
  });

  it('detaches the create buffer still held, so it cannot write into reused memory', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    const buffer = await client.create(id, 64);
    const view = buffer.data;
    await client.abort(id);
    expect(buffer.released).toBe(true);
    expect(() => buffer.data).toThrow(ObjectReleasedError);
    expect(view.byteLength).toBe(0);
    view[0] = 1; // a detached view ignores writes

    // The stale buffer's release (explicit or by GC) must not touch a new object with the same id.
    const again = await client.create(id, 8);
    buffer.release();
    await client.seal(id);
    expect(await refCountOf(client, id.hex)).toBe(1);
    again.release();
    expect(await refCountOf(client, id.hex)).toBe(0);
  });

  it('refuses sealed objects and objects of other clients', async () => {
    const { store, client } = await storeWithClient();
    const other = await connectClient(store.socketPath);
    const id = ObjectId.random();
    (await client.create(id, 1)).release();
    await expect(other.abort(id)).rejects.toThrow(/not an unsealed object of this client/);
    await client.seal(id);
    await expect(client.abort(id)).rejects.toThrow(/not an unsealed object/);
  });
});
