/**
 * Clients killed with SIGKILL at random points of random work: afterwards the store holds no pin,
 * no unsealed allocation and no descriptor of theirs, and still serves.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { onCleanup, repoRoot, startStoreProcess } from '../helpers/processes.js';
import { openFds, rssAnon, storeStillServes } from '../helpers/store-probes.js';
import { report, scaled, seededRandom } from './scale.js';

const worker = path.join(repoRoot, 'test/reliability/workers/churn-client.mjs');

function allocatedBytes(debug: string): number {
  return Number(/allocated bytes: (\d+)/.exec(debug)![1]);
}

async function killedClient(socketPath: string, shared: string, seed: number, lifeMs: number): Promise<void> {
  const child = spawn(process.execPath, [worker, socketPath, shared, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', () => resolve());
  });
  await sleep(lifeMs);
  child.kill('SIGKILL');
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(null) : child.once('exit', resolve)));
}

describe('client kill -9 storm', () => {
  it('leaves no pin, no unsealed allocation and no descriptor behind', async () => {
    const clients = scaled(60, 1000);
    const rand = seededRandom(Number(process.env.STORM_SEED ?? 7));
    const store = await startStoreProcess('256MiB');
    const pid = store.child.pid!;
    const admin = await connectClient(store.socketPath);
    const shared: ObjectId[] = [];
    for (let i = 0; i < 20; i++) {
      const id = ObjectId.random();
      await admin.createAndSeal(id, new Uint8Array(10_000).fill(i));
      shared.push(id);
    }
    const fdsBefore = openFds(pid);
    const memoryBefore = rssAnon(pid);
    const started = performance.now();
    const concurrency = 8;
    let launched = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (launched < clients) {
          launched++;
          await killedClient(store.socketPath, shared.map((id) => id.hex).join(','), 1 + Math.floor(rand() * 1e9), Math.floor(rand() * 300));
        }
      }),
    );
    await sleep(500);
    expect(store.child.exitCode, store.stderr().slice(-2000)).toBeNull();
    const listing = await admin.list();
    const unsealed = listing.filter((o) => o.state !== 'sealed');
    const pinned = listing.filter((o) => o.refCount > 0);
    const listedBytes = listing.reduce((sum, o) => sum + o.dataSize + o.metadataSize, 0);
    const allocated = allocatedBytes(await admin.debugString());
    const fdsAfter = openFds(pid);
    // With nobody holding anything, everything can be evicted: nothing leaked a pin or a block.
    await admin.evict(1 << 30);
    const afterEvict = allocatedBytes(await admin.debugString());
    await storeStillServes(store);
    report('client-kill-storm', {
      clientsKilled: clients,
      objectsLeft: listing.length,
      unsealedLeft: unsealed.length,
      pinnedLeft: pinned.length,
      allocatedBytes: allocated,
      listedBytes,
      allocatedAfterEvictAll: afterEvict,
      storeFdsBefore: fdsBefore,
      storeFdsAfter: fdsAfter,
      rssAnonGrowthMiB: +((rssAnon(pid) - memoryBefore) / 2 ** 20).toFixed(1),
      crashes: store.child.exitCode === null ? 0 : 1,
      seconds: +((performance.now() - started) / 1000).toFixed(1),
    });
    expect(unsealed).toEqual([]);
    expect(pinned).toEqual([]);
    expect(allocated).toBe(listedBytes);
    expect(afterEvict).toBe(0);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 2);
  });
});
