/**
 * Protocol and descriptor fuzzing at scale: random frames, mutated valid requests, lying length
 * headers, frames cut short, and descriptors of every kind, over many connections. The store must
 * never exit, an innocent client's object must stay intact and readable throughout, and the
 * store's descriptors must come back to their baseline.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/index.js';
import { encodeRequest } from '../../src/protocol/client-codec.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { startStoreProcess, tempDir } from '../helpers/processes.js';
import { openFds, rssAnon, storeStillServes } from '../helpers/store-probes.js';
import { report, scaled, seededRandom } from './scale.js';

const VALID: Parameters<typeof encodeRequest>[0][] = [
  { kind: 'create', objectId: ObjectId.random(), evictIfFull: true, dataSize: 100, metadataSize: 0, deviceNum: 0 },
  { kind: 'seal', objectId: ObjectId.random(), digest: new Uint8Array(8) },
  { kind: 'get', objectIds: [ObjectId.random()], timeoutMs: 0 },
  { kind: 'release', objectId: ObjectId.random() },
  { kind: 'contains', objectId: ObjectId.random() },
  { kind: 'list' },
  { kind: 'delete', objectIds: [ObjectId.random()] },
  { kind: 'evict', numBytes: 1000 },
  { kind: 'subscribe' },
  { kind: 'connect' },
] as never;

function header(type: bigint, length: bigint): Buffer {
  const h = Buffer.alloc(24);
  h.writeBigInt64LE(0n, 0);
  h.writeBigInt64LE(type, 8);
  h.writeBigInt64LE(length, 16);
  return h;
}

/** One hostile frame (or a piece of one) as raw bytes. */
function hostileBytes(rand: () => number): Buffer {
  const pick = rand();
  if (pick < 0.35) {
    // A valid request with bytes flipped.
    const request = VALID[Math.floor(rand() * VALID.length)]!;
    const { type, body } = encodeRequest(request);
    const copy = Buffer.from(body);
    for (let i = 0, n = 1 + Math.floor(rand() * 4); i < n && copy.length > 0; i++) copy[Math.floor(rand() * copy.length)] = Math.floor(rand() * 256);
    return Buffer.concat([header(BigInt(type), BigInt(copy.length)), copy]);
  }
  if (pick < 0.6) {
    // Random type and random body.
    const body = Buffer.alloc(Math.floor(rand() * 512));
    for (let i = 0; i < body.length; i++) body[i] = Math.floor(rand() * 256);
    const type = BigInt(Math.floor(rand() * 70) - 5);
    return Buffer.concat([header(type, BigInt(body.length)), body]);
  }
  if (pick < 0.75) {
    // A header whose length lies: huge, negative, or more than what follows.
    const lies = [1n << 62n, -1n, (1n << 63n) - 1n, 1n << 40n, 300n];
    return Buffer.concat([header(BigInt(Math.floor(rand() * 40)), lies[Math.floor(rand() * lies.length)]!), Buffer.alloc(16)]);
  }
  if (pick < 0.85) {
    // A bad version field.
    const h = header(15n, 0n);
    h.writeBigInt64LE(BigInt(Math.floor(rand() * 1000) + 1), 0);
    return h;
  }
  // Pure noise.
  const noise = Buffer.alloc(1 + Math.floor(rand() * 100));
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(rand() * 256);
  return noise;
}

function descriptorOf(kind: number, dir: string): number {
  switch (kind % 5) {
    case 0:
      return fs.openSync('/dev/null', 'r');
    case 1: {
      const fifo = path.join(dir, `fifo-${Math.random()}`);
      spawnSync('mkfifo', [fifo]);
      return fs.openSync(fifo, 'r+');
    }
    case 2:
      return fs.openSync(dir, 'r');
    case 3: {
      const [a, b] = native.socketPair();
      native.closeFd(b);
      return a;
    }
    default:
      return fs.openSync(path.join(dir, `file-${Math.random()}`), 'w');
  }
}

function writeAndClose(socketPath: string, chunks: Buffer[]): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    socket.on('error', () => resolve());
    socket.on('data', () => {});
    socket.on('connect', () => {
      for (const chunk of chunks) socket.write(chunk);
      socket.end(() => {
        socket.destroy();
        resolve();
      });
    });
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 2000);
  });
}

describe('fuzzing', () => {
  it('hostile frames and descriptors never crash the store or harm an innocent client', async () => {
    const frames = scaled(20_000, 200_000);
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
    const rand = seededRandom(seed);
    const dir = tempDir();
    const store = await startStoreProcess('64MiB');
    const pid = store.child.pid!;
    const innocent = await connectClient(store.socketPath);
    const id = ObjectId.random();
    const bytes = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) % 251);
    await innocent.createAndSeal(id, bytes);
    const [held] = await innocent.get([id]);
    const fdsBefore = openFds(pid);
    const memoryBefore = rssAnon(pid);
    let sent = 0;
    let descriptors = 0;
    let harmed = 0;
    const started = performance.now();
    while (sent < frames) {
      // A connection gets a burst of frames, then goes away (mid-frame, often).
      const burst = 1 + Math.floor(rand() * 50);
      const chunks: Buffer[] = [];
      for (let i = 0; i < burst && sent < frames; i++, sent++) chunks.push(hostileBytes(rand));
      if (rand() < 0.15) {
        const channel = native.connect(store.socketPath, 'plasma');
        const fd = descriptorOf(Math.floor(rand() * 5), dir);
        const { type, body } = encodeRequest({ kind: 'subscribe' });
        if (rand() < 0.5) channel.sendFrame(Number(type), body);
        channel.sendFd(fd);
        fs.closeSync(fd);
        descriptors++;
        await sleep(1);
        channel.close();
      }
      await writeAndClose(store.socketPath, chunks);
      if (sent % 1000 < burst) {
        expect(store.child.exitCode, `store exited after ${sent} frames (seed ${seed}): ${store.stderr().slice(-2000)}`).toBeNull();
        if (!Buffer.from(held!.data).equals(Buffer.from(bytes)) || !(await innocent.contains(id))) harmed++;
      }
    }
    await sleep(500);
    expect(store.child.exitCode).toBeNull();
    await storeStillServes(store);
    const [again] = await innocent.get([id], { timeoutMs: 1000 });
    expect(Buffer.from(again!.data).equals(Buffer.from(bytes))).toBe(true);
    const fdsAfter = openFds(pid);
    const figures = {
      frames: sent,
      descriptors,
      seed,
      crashes: store.child.exitCode === null ? 0 : 1,
      innocentHarmed: harmed,
      storeFdsBefore: fdsBefore,
      storeFdsAfter: fdsAfter,
      rssAnonGrowthMiB: +((rssAnon(pid) - memoryBefore) / 2 ** 20).toFixed(1),
      seconds: +((performance.now() - started) / 1000).toFixed(1),
    };
    report('fuzz', figures);
    expect(harmed).toBe(0);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 2);
  });
});
