/**
 * Shared pieces of the client, Arrow and interop suites: a real store process with clients that
 * are closed after each test, the process's own view of its mappings (/proc/self/maps), and a
 * garbage collector callable without restarting vitest's workers with --expose-gc.
 */
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { expect } from 'vitest';
import { connect, type PlasmaClient } from '../../src/index.js';
import { onCleanup, startStoreProcess, type StoreProcess } from '../helpers/processes.js';

/** Connect a client that is closed when the test ends. */
export async function connectClient(socketPath: string): Promise<PlasmaClient> {
  const client = await connect(socketPath, { retries: 5 });
  onCleanup(() => client.close());
  return client;
}

/** A store process (`plasmapool store -m memory`) and one connected client. */
export async function storeWithClient(memory = '64MiB', extraArgs: string[] = []): Promise<{ store: StoreProcess; client: PlasmaClient }> {
  const store = await startStoreProcess(memory, extraArgs);
  expect(store.regionPath, 'the store prints its region file in its ready line').toMatch(/^\//);
  const client = await connectClient(store.socketPath);
  return { store, client };
}

/** An address range of this process mapping a file, and the file offset it starts at. */
export interface MappedRange {
  start: bigint;
  end: bigint;
  offset: bigint;
}

/** Every range of /proc/self/maps that maps `file` (the kernel may split one mmap into several). */
export function mappingsOf(file: string): MappedRange[] {
  const ranges: MappedRange[] = [];
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const fields = line.trim().split(/\s+/);
    const mapped = fields.slice(5).join(' ').replace(/ \(deleted\)$/, '');
    if (mapped !== file) continue;
    const [start, end] = fields[0]!.split('-');
    ranges.push({ start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), offset: BigInt(`0x${fields[2]}`) });
  }
  return ranges.sort((a, b) => (a.start < b.start ? -1 : 1));
}

/**
 * Distinct mmap() calls of `file`: a range that starts where the previous one ends and continues
 * its file offsets is the same mapping split by the kernel.
 */
export function mappingCount(file: string): number {
  let count = 0;
  let previous: MappedRange | null = null;
  for (const range of mappingsOf(file)) {
    const continues = previous !== null && range.start === previous.end && range.offset === previous.offset + (previous.end - previous.start);
    if (!continues) count += 1;
    previous = range;
  }
  return count;
}

/** Whether [address, address + length) lies inside one of these ranges. */
export function within(ranges: readonly MappedRange[], address: bigint, length: number): boolean {
  return ranges.some((r) => address >= r.start && address + BigInt(length) <= r.end);
}

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

/**
 * Collect garbage until `done()` holds (FinalizationRegistry callbacks run as tasks after a GC,
 * so yield between rounds). Returns whether it held.
 */
export async function collectUntil(done: () => boolean | Promise<boolean>, rounds = 40): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    gc();
    await sleep(10);
    if (await done()) return true;
  }
  return false;
}

/** Poll until `done()` holds or `timeoutMs` passes. */
export async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await done()) return true;
    await sleep(10);
  }
  return false;
}

/** The store's reference count of one object (via list()), or null if it is not in the store. */
export async function refCountOf(client: PlasmaClient, hex: string): Promise<number | null> {
  const entry = (await client.list()).find((o) => o.id.hex === hex);
  return entry ? entry.refCount : null;
}
