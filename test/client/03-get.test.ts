/**
 * get: many ids in order, null for what is missing, the three timeout forms, completion when
 * another client seals later, and segments mapped once per connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ObjectId, PlasmaStoreError } from '../../src/index.js';
import { native } from '../../src/native/index.js';
import { connectClient, mappingCount, mappingsOf, storeWithClient, within } from './support.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('get', () => {
  it('returns one buffer per id, in order, and null for missing ids', async () => {
    const { client } = await storeWithClient();
    const ids = [ObjectId.random(), ObjectId.random(), ObjectId.random()];
    await client.createAndSeal(ids[0]!, bytes(0));
    await client.createAndSeal(ids[2]!, bytes(2, 2));
    const missing = ObjectId.random();
    const got = await client.get([ids[2]!, missing, ids[0]!], { timeoutMs: 0 });
    expect(got.map((b) => (b ? [...b.data] : null))).toEqual([[2, 2], null, [0]]);
    expect(got[0]!.id.equals(ids[2]!)).toBe(true);
    expect(await client.get([])).toEqual([]);
  });

  it('timeout 0 answers at once; k waits about k ms; 60 missing ids all come back null', async () => {
    const { client } = await storeWithClient();
    const ids = Array.from({ length: 60 }, () => ObjectId.random());
    let started = performance.now();
    expect((await client.get(ids, { timeoutMs: 0 })).every((b) => b === null)).toBe(true);
    expect(performance.now() - started).toBeLessThan(500);
    started = performance.now();
    expect((await client.get(ids, { timeoutMs: 200 })).every((b) => b === null)).toBe(true);
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(180);
    expect(waited).toBeLessThan(2000);
  });

  it('timeout -1 (the default) waits until another client seals the object', async () => {
    const { store, client } = await storeWithClient();
    const producer = await connectClient(store.socketPath);
    const id = ObjectId.random();
    const pending = client.get([id]);
    let settled = false;
    void pending.then(() => (settled = true));
    await sleep(300);
    expect(settled).toBe(false);
    const buffer = await producer.create(id, 3);
    buffer.data.set(bytes(7, 8, 9));
    await sleep(100);
    expect(settled).toBe(false); // created is not sealed
    await producer.seal(id);
    const [got] = await pending;
    expect([...got!.data]).toEqual([7, 8, 9]);
  });

  it('timeout k returns objects sealed during the wait and null for the rest', async () => {
    const { store, client } = await storeWithClient();
    const producer = await connectClient(store.socketPath);
    const [soon, never] = [ObjectId.random(), ObjectId.random()];
    const pending = client.get([soon, never], { timeoutMs: 1500 });
    await sleep(100);
    await producer.createAndSeal(soon, bytes(1));
    const [a, b] = await pending;
    expect([...a!.data]).toEqual([1]);
    expect(b).toBeNull();
  });

  it('validates the timeout and refuses to wait forever on its own unsealed object', async () => {
    const { client } = await storeWithClient();
    await expect(client.get([ObjectId.random()], { timeoutMs: -2 })).rejects.toThrow(TypeError);
    await expect(client.get([ObjectId.random()], { timeoutMs: 1.5 })).rejects.toThrow(TypeError);
    const id = ObjectId.random();
    const buffer = await client.create(id, 1);
    await expect(client.get([id])).rejects.toThrow(PlasmaStoreError);
    expect(await client.get([id], { timeoutMs: 0 })).toEqual([null]);
    buffer.release();
  });

  it('repeated ids give independent buffers over the same bytes', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    await client.createAndSeal(id, bytes(5));
    const [a, b] = await client.get([id, id]);
    expect(a!.buffer).not.toBe(b!.buffer);
    expect(native.addressOf(a!.buffer)).toBe(native.addressOf(b!.buffer));
    a!.release();
    expect([...b!.data]).toEqual([5]);
  });

  it('maps each segment once per connection, however many gets', async () => {
    const { store, client } = await storeWithClient();
    expect(mappingCount(store.regionPath)).toBe(0);
    const ids = Array.from({ length: 50 }, () => ObjectId.random());
    for (const id of ids) await client.createAndSeal(id, bytes(1, 2, 3));
    const held = [];
    for (let round = 0; round < 4; round++) {
      for (const id of ids) held.push(await client.getOne(id, { timeoutMs: 0 }));
      held.push(...(await client.get(ids, { timeoutMs: 0 })));
    }
    expect(client.mappedSegments).toBe(1);
    expect(mappingCount(store.regionPath)).toBe(1);
    const ranges = mappingsOf(store.regionPath);
    for (const buffer of held) expect(within(ranges, native.addressOf(buffer!.data), 3)).toBe(true);
    // A second connection maps the region again, once.
    const other = await connectClient(store.socketPath);
    await other.get(ids, { timeoutMs: 0 });
    expect(mappingCount(store.regionPath)).toBe(2);
    other.close();
    for (const buffer of held) buffer!.release();
  });

  it('buffers of a create are in the same single mapping', async () => {
    const { store, client } = await storeWithClient();
    const buffers = [];
    for (let i = 0; i < 20; i++) {
      const id = ObjectId.random();
      buffers.push(await client.create(id, 1000));
      await client.seal(id);
    }
    expect(mappingCount(store.regionPath)).toBe(1);
    const ranges = mappingsOf(store.regionPath);
    for (const buffer of buffers) expect(within(ranges, native.addressOf(buffer.buffer), 1000)).toBe(true);
  });
});
