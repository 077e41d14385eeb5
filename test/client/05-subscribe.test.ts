/**
 * subscribe: an async iterator of seal and deletion notifications, existing objects first.
 */
import { describe, expect, it } from 'vitest';
import { ObjectId, PlasmaStoreError, type Notification, type NotificationStream } from '../../src/index.js';
import { onCleanup } from '../helpers/processes.js';
import { connectClient, storeWithClient } from './support.js';

/** The next n notifications, failing after a timeout instead of hanging the suite. */
async function take(stream: NotificationStream, n: number, timeoutMs = 5000): Promise<Notification[]> {
  const out: Notification[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const next = await Promise.race([
      stream.next(),
      new Promise<null>((resolve) => setTimeout(() => resolve(null), Math.max(0, deadline - Date.now()))),
    ]);
    if (next === null) throw new Error(`only ${out.length} of ${n} notifications within ${timeoutMs} ms`);
    if (next.done) throw new Error(`the stream ended after ${out.length} of ${n} notifications`);
    out.push(next.value);
  }
  return out;
}

const short = (n: Notification) => ({ id: n.id.hex, deleted: n.deleted, dataSize: n.dataSize, metadataSize: n.metadataSize });

describe('subscribe', () => {
  it('starts with every object already sealed (not unsealed ones), then reports new seals', async () => {
    const { store, client } = await storeWithClient();
    const producer = await connectClient(store.socketPath);
    const [a, b, c] = [ObjectId.random(), ObjectId.random(), ObjectId.random()];
    await producer.createAndSeal(a, new Uint8Array(10), new Uint8Array(2));
    await producer.createAndSeal(b, new Uint8Array(20));
    const unsealed = await producer.create(c, 30);
    const stream = client.subscribe();
    onCleanup(() => stream.close());
    const existing = (await take(stream, 2)).map(short);
    expect(existing).toEqual(
      expect.arrayContaining([
        { id: a.hex, deleted: false, dataSize: 10, metadataSize: 2 },
        { id: b.hex, deleted: false, dataSize: 20, metadataSize: 0 },
      ]),
    );
    await producer.seal(c);
    expect((await take(stream, 1)).map(short)).toEqual([{ id: c.hex, deleted: false, dataSize: 30, metadataSize: 0 }]);
    unsealed.release();
  });

  it('reports deletions from delete and evict', async () => {
    const { store, client } = await storeWithClient();
    const producer = await connectClient(store.socketPath);
    const stream = client.subscribe();
    const [a, b] = [ObjectId.random(), ObjectId.random()];
    await producer.createAndSeal(a, new Uint8Array(100));
    await producer.createAndSeal(b, new Uint8Array(100));
    expect((await take(stream, 2)).map((n) => n.id.hex)).toEqual([a.hex, b.hex]);
    await producer.delete([a]);
    expect((await take(stream, 1)).map(short)).toEqual([{ id: a.hex, deleted: true, dataSize: -1, metadataSize: -1 }]);
    expect(await producer.evict(1)).toBe(100);
    expect((await take(stream, 1)).map(short)).toEqual([{ id: b.hex, deleted: true, dataSize: -1, metadataSize: -1 }]);
    stream.close();
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it('reports every object of a batch, in batch order', async () => {
    const { client } = await storeWithClient();
    const stream = client.subscribe();
    const ids = Array.from({ length: 5 }, () => ObjectId.random());
    await client.createAndSealBatch(ids.map((id) => ({ id, data: new Uint8Array(1) })));
    expect((await take(stream, 5)).map((n) => n.id.hex)).toEqual(ids.map((id) => id.hex));
    stream.close();
  });

  it('works with for await, and breaking out of the loop closes the stream', async () => {
    const { client } = await storeWithClient();
    const ids = Array.from({ length: 3 }, () => ObjectId.random());
    for (const id of ids) await client.createAndSeal(id, new Uint8Array(1));
    const stream = client.subscribe();
    const seen = new Set<string>();
    for await (const notification of stream) {
      seen.add(notification.id.hex);
      if (seen.size === 3) break;
    }
    expect(seen).toEqual(new Set(ids.map((id) => id.hex)));
    expect(await stream.next()).toMatchObject({ done: true });
  });

  it('one stream per connection; closing the client ends it', async () => {
    const { client } = await storeWithClient();
    const stream = client.subscribe();
    expect(() => client.subscribe()).toThrow(PlasmaStoreError);
    const next = stream.next();
    client.close();
    expect(await next).toEqual({ value: undefined, done: true });
  });
});
