/**
 * The store's memory per object: RSS of a fresh store process before and after it holds N small
 * sealed objects (created with createAndSealBatch, 1000 per request), divided by N. The region is
 * pre-faulted when the store starts, so the growth is the store's own bookkeeping (RssAnon: JS
 * heap, maps, allocator) plus any shared pages touched for the first time (RssShmem).
 */
import fs from 'node:fs';
import { connect } from '../../src/client/plasma-client.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import type { MemoryResult, ProcMemory } from '../lib/results.js';

export function procMemory(pid: number): ProcMemory {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { vmRssKB: field('VmRSS'), rssAnonKB: field('RssAnon'), rssFileKB: field('RssFile'), rssShmemKB: field('RssShmem') };
}

export async function runMemory(
  socket: string,
  pid: number,
  objects: number,
  objectSize: number,
  onBatch: (objectsDone: number) => void,
): Promise<MemoryResult> {
  const client = await connect(socket);
  try {
    const data = new Uint8Array(objectSize).fill(1);
    // Let the freshly started store settle (JIT, first allocations) before the "before" figure.
    await client.createAndSealBatch(Array.from({ length: 100 }, () => ({ id: ObjectId.random(), data })));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const before = procMemory(pid);
    const t0 = performance.now();
    const batch = 1000;
    for (let done = 0; done < objects; done += batch) {
      const n = Math.min(batch, objects - done);
      await client.createAndSealBatch(Array.from({ length: n }, () => ({ id: ObjectId.random(), data })));
      onBatch(n);
    }
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = procMemory(pid);
    return {
      objects,
      objectSize,
      seconds,
      objectsPerSec: objects / seconds,
      before,
      after,
      rssBytesPerObject: ((after.vmRssKB - before.vmRssKB) * 1024) / objects,
      anonBytesPerObject: ((after.rssAnonKB - before.rssAnonKB) * 1024) / objects,
    };
  } finally {
    client.close();
  }
}
