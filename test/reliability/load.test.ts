/**
 * Load with bounded memory: 64 clients doing create, write, seal, get, release, contains and
 * delete at once; no errors, and the store's anonymous memory stays bounded while the object
 * count does. Then the clients that do not read: a List and a Contains flood without reading the
 * replies, and a subscriber that never reads its notifications.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/index.js';
import { encodeRequest } from '../../src/protocol/client-codec.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { onCleanup, startStoreProcess } from '../helpers/processes.js';
import { rawConnection, rssAnon, send, storeStillServes } from '../helpers/store-probes.js';
import { report, scaled } from './scale.js';

const MiB = 2 ** 20;

describe('load', () => {
  it('64 clients at once: no errors, bounded memory', async () => {
    const perClient = scaled(400, 2000);
    const store = await startStoreProcess('512MiB');
    const pid = store.child.pid!;
    const clients = await Promise.all(Array.from({ length: 64 }, () => connectClient(store.socketPath)));
    const memoryBefore = rssAnon(pid);
    let peak = memoryBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, rssAnon(pid))), 50);
    onCleanup(() => clearInterval(sampler));
    let errors = 0;
    const latencies: number[] = [];
    const started = performance.now();
    await Promise.all(
      clients.map(async (client, c) => {
        for (let i = 0; i < perClient; i++) {
          const t0 = performance.now();
          try {
            const id = ObjectId.random();
            const buffer = await client.create(id, 1000 + ((i * 131 + c) % 50_000));
            buffer.data.fill(c);
            await client.seal(id);
            buffer.release();
            const [got] = await client.get([id], { timeoutMs: 1000 });
            if (!got || got.data[0] !== (c & 0xff)) errors++;
            got?.release();
            if (!(await client.contains(id))) errors++;
            await client.delete([id]);
          } catch {
            errors++;
          }
          latencies.push(performance.now() - t0);
        }
      }),
    );
    clearInterval(sampler);
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    report('load', {
      clients: 64,
      operations: 64 * perClient * 6,
      errors,
      roundsPerSecond: Math.round((64 * perClient) / seconds),
      roundP99Ms: +latencies[Math.floor(latencies.length * 0.99)]!.toFixed(2),
      rssAnonBeforeMiB: +(memoryBefore / MiB).toFixed(1),
      rssAnonPeakMiB: +(peak / MiB).toFixed(1),
      crashes: store.child.exitCode === null ? 0 : 1,
    });
    expect(errors).toBe(0);
    expect(peak - memoryBefore).toBeLessThan(256 * MiB);
  });

  it('clients that send without reading stall themselves; a subscriber that never reads is dropped', async () => {
    const store = await startStoreProcess('256MiB');
    const pid = store.child.pid!;
    const admin = await connectClient(store.socketPath);
    for (let i = 0; i < 2000; i++) await admin.createAndSeal(ObjectId.random(), new Uint8Array(64));
    const before = rssAnon(pid);
    // List flood: each reply ~200 kB; Contains flood: many small replies.
    const listFlood = rawConnection(store);
    const list = encodeRequest({ kind: 'list' });
    const listFrames = scaled(25_000, 100_000);
    for (let i = 0; i < listFrames; i++) listFlood.sendFrame(Number(list.type), list.body);
    const containsFlood = rawConnection(store);
    const contains = encodeRequest({ kind: 'contains', objectId: ObjectId.random() });
    const containsFrames = scaled(200_000, 1_000_000);
    for (let i = 0; i < containsFrames; i++) containsFlood.sendFrame(Number(contains.type), contains.body);
    await sleep(1500);
    const floodGrowth = rssAnon(pid) - before;
    // A subscriber that never reads.
    const subscriber = rawConnection(store);
    const [mine, theirs] = native.socketPair();
    onCleanup(() => native.closeFd(mine));
    send(subscriber, { kind: 'subscribe' });
    subscriber.sendFd(theirs);
    native.closeFd(theirs);
    await sleep(200);
    const batches = scaled(800, 3000);
    for (let i = 0; i < batches; i++) {
      await admin.createAndSealBatch(Array.from({ length: 500 }, () => ({ id: ObjectId.random(), data: new Uint8Array(0) })));
      if (i % 20 === 19) await admin.delete((await admin.list()).filter((o) => o.dataSize === 0).map((o) => o.id));
    }
    // Meanwhile a new client connects and is served.
    const t0 = performance.now();
    await storeStillServes(store);
    const newClientMs = performance.now() - t0;
    await sleep(1000);
    const growth = rssAnon(pid) - before;
    const dropped = /subscriber dropped/.test(store.stderr());
    const subscriberEnded = await new Promise<boolean>((resolve) => {
      const sock = new net.Socket({ fd: mine, readable: true, writable: false });
      sock.on('data', () => {});
      sock.on('end', () => resolve(true));
      sock.on('error', () => resolve(true));
      setTimeout(() => resolve(false), 10_000);
    });
    report('no-reading-clients', {
      listRequests: listFrames,
      listRequestBytes: listFrames * (24 + list.body.length),
      containsRequests: containsFrames,
      floodGrowthMiB: +(floodGrowth / MiB).toFixed(1),
      rssAnonGrowthWithChurnMiB: +(growth / MiB).toFixed(1),
      newClientServedMs: Math.round(newClientMs),
      subscriberDropped: dropped && subscriberEnded,
      crashes: store.child.exitCode === null ? 0 : 1,
    });
    expect(store.child.exitCode).toBeNull();
    // The floods cost at most their output bounds; the 400,000 objects sealed and deleted for the
    // subscriber's sake cost heap churn on top, which is bounded too.
    expect(floodGrowth).toBeLessThan(96 * MiB);
    expect(growth).toBeLessThan(256 * MiB);
    expect(dropped && subscriberEnded).toBe(true);
  });
});
