/**
 * setOptions, debugString, connect errors and close (with what closing means for held buffers).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, ObjectId, ObjectReleasedError, PlasmaConnectionError, PlasmaStoreError } from '../../src/index.js';
import { native } from '../../src/native/index.js';
import { tempDir } from '../helpers/processes.js';
import { connectClient, refCountOf, storeWithClient, waitFor } from './support.js';

describe('setOptions and debugString', () => {
  it('a client may reserve one quota, which the debug string then shows', async () => {
    const { client } = await storeWithClient('64MiB');
    const before = await client.debugString();
    expect(before).toMatch(/num clients with quota: 0/);
    expect(before).toMatch(`allocation limit: ${64 * 1024 * 1024}`);
    await client.setOptions('reader-1', 1024 * 1024);
    const after = await client.debugString();
    expect(after).toMatch(/num clients with quota: 1/);
    expect(after).toContain('reader-1');
    await expect(client.setOptions('reader-1', 1024)).rejects.toThrow(PlasmaStoreError);
  });

  it('refuses a quota that leaves less than 30 % of the store global', async () => {
    const { client } = await storeWithClient('64MiB');
    await expect(client.setOptions('greedy', 50 * 1024 * 1024)).rejects.toThrow(/30 %/);
  });
});

describe('connect and close', () => {
  it('connect names the fix when no store listens', async () => {
    const socket = path.join(tempDir(), 'nobody.sock');
    const failing = connect(socket, { retries: 1, retryDelayMs: 10 });
    await expect(failing).rejects.toThrow(PlasmaConnectionError);
    await expect(connect(socket, { retries: 0 })).rejects.toThrow(/plasmapool store -s/);
  });

  it('waits for a reply awake for at most replySpinMicros, and refuses a spin it cannot keep short', async () => {
    const { store } = await storeWithClient('16MiB');
    await expect(connect(store.socketPath, { replySpinMicros: 5000 })).rejects.toThrow(/replySpinMicros must be between 0 and 1000/);
    await expect(connect(store.socketPath, { replySpinMicros: -1 })).rejects.toThrow(TypeError);
    // Spinning or not, every request completes with the same answers.
    for (const replySpinMicros of [0, 50, 1000]) {
      const client = await connect(store.socketPath, { replySpinMicros });
      const id = ObjectId.random();
      const buffer = await client.create(id, 4);
      buffer.data.set([1, 2, 3, 4]);
      await client.seal(id);
      buffer.release();
      const [got] = await client.get([id], { timeoutMs: 0 });
      expect([...got!.data]).toEqual([1, 2, 3, 4]);
      got!.release();
      client.close();
    }
  });

  it('the native wait returns as soon as a reply is readable, and gives up after its bound', async () => {
    const [a, b] = native.socketPair();
    const reader = native.channelFromFd(a, 'plasma');
    const writer = native.channelFromFd(b, 'plasma');
    try {
      let started = process.hrtime.bigint();
      expect(reader.awaitReadable(2000)).toBe(false); // nothing sent: waits its bound (capped at 1 ms)
      const waited = Number(process.hrtime.bigint() - started) / 1000;
      expect(waited).toBeGreaterThanOrEqual(900);
      writer.sendFrame(1, new Uint8Array(8));
      started = process.hrtime.bigint();
      expect(reader.awaitReadable(1000)).toBe(true);
      expect(reader.awaitReadable(0)).toBe(false); // 0: no wait at all
    } finally {
      reader.close();
      writer.close();
    }
  });

  it('reports the store capacity', async () => {
    const { client } = await storeWithClient('48MiB');
    expect(client.capacity).toBe(48 * 1024 * 1024);
    expect(client.socketPath).toMatch(/plasma\.sock$/);
  });

  it('close: later calls fail, the store drops the client’s references and unsealed objects', async () => {
    const { store, client } = await storeWithClient();
    const observer = await connectClient(store.socketPath);
    const [sealed, unsealed] = [ObjectId.random(), ObjectId.random()];
    await client.createAndSeal(sealed, new Uint8Array(16).fill(4));
    const held = (await client.getOne(sealed))!;
    const view = held.data;
    const writable = await client.create(unsealed, 16);
    client.close();
    client.close(); // idempotent
    expect(client.closed).toBe(true);
    await expect(client.list()).rejects.toThrow(PlasmaConnectionError);
    await expect(client.get([sealed])).rejects.toThrow(PlasmaConnectionError);
    // The store may now reuse that memory: what the client handed out is detached.
    expect(() => held.data).toThrow(ObjectReleasedError);
    expect(view.byteLength).toBe(0);
    expect(() => writable.data).toThrow(ObjectReleasedError);
    expect(await waitFor(async () => (await observer.list()).length === 1)).toBe(true);
    expect(await refCountOf(observer, sealed.hex)).toBe(0);
  });

  it('a get waiting when the store goes away fails with a connection error; held buffers are detached', async () => {
    const { store, client } = await storeWithClient();
    const id = ObjectId.random();
    await client.createAndSeal(id, new Uint8Array(8).fill(1));
    const held = (await client.getOne(id))!;
    const failed = expect(client.get([ObjectId.random()])).rejects.toThrow(PlasmaConnectionError);
    await sleep(100);
    await store.stop();
    await failed;
    expect(client.closed).toBe(true);
    expect(held.released).toBe(true);
    expect(() => held.data).toThrow(ObjectReleasedError);
  });

  it('Symbol.dispose closes the client (`using`: see 07-lifetimes)', async () => {
    const { client } = await storeWithClient();
    const scoped = await connect(client.socketPath);
    expect(scoped.closed).toBe(false);
    scoped[Symbol.dispose]();
    expect(scoped.closed).toBe(true);
  });
});
