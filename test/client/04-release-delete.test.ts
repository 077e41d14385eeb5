/**
 * release, delete (deferred while held), contains, list, evict.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ObjectId, ObjectReleasedError } from '../../src/index.js';
import { connectClient, refCountOf, storeWithClient, waitFor } from './support.js';

const filled = (size: number, value: number) => new Uint8Array(size).fill(value);

describe('release', () => {
  it('gives the reference back once every buffer of the object is released', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    await client.createAndSeal(id, filled(10, 1));
    const a = (await client.getOne(id))!;
    const b = (await client.getOne(id))!; // answered locally: same reference at the store
    expect(await refCountOf(client, id.hex)).toBe(1);
    a.release();
    a.release(); // idempotent
    expect(await refCountOf(client, id.hex)).toBe(1);
    expect([...b.data]).toEqual([...filled(10, 1)]);
    b[Symbol.dispose]();
    expect(b.released).toBe(true);
    expect(await refCountOf(client, id.hex)).toBe(0);
    expect(() => b.data).toThrow(ObjectReleasedError);
  });

  it('a release while a get of the same object is in flight does not unpin what the get returns', async () => {
    const { store, client } = await storeWithClient();
    const observer = await connectClient(store.socketPath);
    const [held, missing] = [ObjectId.random(), ObjectId.random()];
    await observer.createAndSeal(held, filled(4, 9));
    const first = (await client.getOne(held))!;
    // The store answers this get only after its timeout (one id is missing); meanwhile the only
    // buffer of `held` is released. Sending that Release now would drop the reference the get
    // is about to hand out again (the store keeps one reference per client and object).
    const pending = client.get([held, missing], { timeoutMs: 300 });
    await sleep(50);
    first.release();
    const [again, none] = await pending;
    expect(none).toBeNull();
    expect(await refCountOf(observer, held.hex)).toBe(1);
    expect([...again!.data]).toEqual([9, 9, 9, 9]);
    again!.release();
    expect(await waitFor(async () => (await refCountOf(observer, held.hex)) === 0)).toBe(true);
  });

  it('queued gets keep the object pinned until the last of them is answered', async () => {
    const { store, client } = await storeWithClient();
    const observer = await connectClient(store.socketPath);
    const id = ObjectId.random();
    await observer.createAndSeal(id, filled(4, 3));
    // Both requests are issued before any reply; the first reply's buffer is released at once.
    const [one, two] = await Promise.all([
      client.get([id], { timeoutMs: 0 }).then(([b]) => (b!.release(), b)),
      client.get([id], { timeoutMs: 0 }),
    ]);
    expect(one!.released).toBe(true);
    expect(await refCountOf(observer, id.hex)).toBe(1);
    two[0]!.release();
    expect(await refCountOf(client, id.hex)).toBe(0); // same connection: the Release went first
  });
});

describe('delete', () => {
  it('deletes unheld objects at once; missing ids are not an error', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    await client.createAndSeal(id, filled(8, 1));
    await client.delete([id, ObjectId.random()]);
    expect(await client.contains(id)).toBe(false);
    expect(await client.list()).toEqual([]);
    await client.delete([]);
  });

  it('is deferred while another client holds the object, and happens at its release', async () => {
    const { store, client } = await storeWithClient();
    const reader = await connectClient(store.socketPath);
    const id = ObjectId.random();
    await client.createAndSeal(id, filled(8, 2));
    const held = (await reader.getOne(id))!;
    await client.delete([id]);
    expect(await client.contains(id)).toBe(true);
    expect([...held.data]).toEqual([...filled(8, 2)]);
    held.release();
    expect(await waitFor(async () => !(await client.contains(id)))).toBe(true);
    expect(await client.list()).toEqual([]);
  });

  it('of the deleting client’s own held object is deferred too', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    await client.createAndSeal(id, filled(8, 3));
    const held = (await client.getOne(id))!;
    await client.delete([id]);
    expect((await client.list()).length).toBe(1);
    held.release();
    expect(await waitFor(async () => (await client.list()).length === 0)).toBe(true);
  });

  it('of an unsealed object waits for its seal and release', async () => {
    const { store, client } = await storeWithClient();
    const other = await connectClient(store.socketPath);
    const id = ObjectId.random();
    const buffer = await client.create(id, 4);
    await other.delete([id]);
    await client.seal(id);
    expect(await other.contains(id)).toBe(true);
    buffer.release();
    expect(await waitFor(async () => !(await other.contains(id)))).toBe(true);
  });
});

describe('contains and list', () => {
  it('contains: sealed objects only', async () => {
    const { store, client } = await storeWithClient();
    const other = await connectClient(store.socketPath);
    const id = ObjectId.random();
    expect(await client.contains(id)).toBe(false);
    const buffer = await client.create(id, 1);
    expect(await other.contains(id)).toBe(false);
    await client.seal(id);
    expect(await other.contains(id)).toBe(true);
    expect(await client.contains(id)).toBe(true);
    buffer.release();
  });

  it('list: one entry per object with sizes, state, reference count and times', async () => {
    const { store, client } = await storeWithClient();
    const other = await connectClient(store.socketPath);
    const [a, b] = [ObjectId.random(), ObjectId.random()];
    await client.createAndSeal(a, filled(100, 1), filled(7, 1));
    const unsealed = await client.create(b, 50);
    const held = await other.get([a]);
    const before = Date.now() / 1000;
    const listed = new Map((await other.list()).map((o) => [o.id.hex, o]));
    expect(listed.size).toBe(2);
    expect(listed.get(a.hex)).toMatchObject({ dataSize: 100, metadataSize: 7, refCount: 1, state: 'sealed' });
    // Whole seconds, as the reference store counts them: create and seal may straddle a second.
    expect(listed.get(a.hex)!.constructDuration).toBeGreaterThanOrEqual(0);
    expect(listed.get(a.hex)!.constructDuration).toBeLessThanOrEqual(1);
    expect(listed.get(b.hex)).toMatchObject({ dataSize: 50, metadataSize: 0, refCount: 1, state: 'created', constructDuration: -1 });
    expect(Math.abs(listed.get(a.hex)!.createTime - before)).toBeLessThanOrEqual(2);
    unsealed.release();
    held[0]!.release();
  });
});

describe('evict', () => {
  it('evicts unpinned objects, least recently used first, and never pinned ones', async () => {
    const { client } = await storeWithClient();
    const ids = Array.from({ length: 4 }, () => ObjectId.random());
    for (const id of ids) await client.createAndSeal(id, filled(1000, 1));
    const pinned = (await client.getOne(ids[0]!))!; // the oldest, but pinned
    const evicted = await client.evict(1500);
    expect(evicted).toBe(2000);
    const left = (await client.list()).map((o) => o.id.hex).sort();
    expect(left).toEqual([ids[0]!.hex, ids[3]!.hex].sort());
    expect(await client.evict(1_000_000)).toBe(1000);
    expect((await client.list()).map((o) => o.id.hex)).toEqual([ids[0]!.hex]);
    pinned.release();
    await expect(client.evict(-1)).rejects.toThrow(TypeError);
  });

  it('refreshLru moves objects to the most recently used end', async () => {
    const { client } = await storeWithClient();
    const ids = Array.from({ length: 3 }, () => ObjectId.random());
    for (const id of ids) await client.createAndSeal(id, filled(100, 1));
    await client.refreshLru([ids[0]!, ObjectId.random()]); // unknown ids are ignored
    expect(await client.evict(1)).toBe(100);
    expect((await client.list()).map((o) => o.id.hex).sort()).toEqual([ids[0]!.hex, ids[2]!.hex].sort());
  });
});
