/**
 * Looking at a store process from outside, as the reliability checks do: its descriptors, its
 * anonymous memory, raw connections that send whatever a test says, and a check that it still
 * serves an ordinary client.
 */
import fs from 'node:fs';
import { expect } from 'vitest';
import { native, type NativeChannel } from '../../src/native/index.js';
import { encodeRequest } from '../../src/protocol/client-codec.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { onCleanup, type StoreProcess } from './processes.js';

/** Descriptors the store process holds now. */
export function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

/** Resident anonymous memory of a process, in bytes (heap and malloc arenas, not shared memory). */
export function rssAnon(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('RssAnon:'))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

/** A raw connection that sends whatever the test says and reads nothing unless started. */
export function rawConnection(store: StoreProcess): NativeChannel {
  const channel = native.connect(store.socketPath, 'plasma');
  onCleanup(() => channel.close());
  return channel;
}

export function send(channel: NativeChannel, request: Parameters<typeof encodeRequest>[0]): void {
  const { type, body } = encodeRequest(request);
  channel.sendFrame(Number(type), body);
}

/** The store still answers a fresh client: create, seal, get the bytes back. */
export async function storeStillServes(store: StoreProcess): Promise<void> {
  const client = await connectClient(store.socketPath);
  const id = ObjectId.random();
  await client.createAndSeal(id, new Uint8Array([1, 2, 3]));
  const [buffer] = await client.get([id], { timeoutMs: 5000 });
  expect(Array.from(buffer!.data)).toEqual([1, 2, 3]);
  buffer!.release();
}

