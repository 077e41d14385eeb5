/**
 * `-e file:///DIR` keeps its spilled objects across a restart of the store, after a clean stop or
 * SIGKILL, and serves them again; with a named region as well, nothing sealed is lost at all.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { onCleanup, startStoreProcess, tempDir } from '../helpers/processes.js';

async function fill(socketPath: string, count: number): Promise<Map<string, Buffer>> {
  const client = await connectClient(socketPath);
  const objects = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const id = ObjectId.random();
    const data = crypto.randomBytes(50_000 + i);
    await client.createAndSeal(id, data);
    objects.set(id.hex, data);
  }
  return objects;
}

async function readAll(socketPath: string, ids: string[]): Promise<Map<string, Buffer | null>> {
  const client = await connectClient(socketPath);
  const found = new Map<string, Buffer | null>();
  for (const hex of ids) {
    const [buffer] = await client.get([ObjectId.fromHex(hex)], { timeoutMs: 0 });
    found.set(hex, buffer ? Buffer.from(buffer.data) : null);
    buffer?.release();
  }
  return found;
}

describe('a persistent external store across restarts', () => {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`finds its spilled objects again after ${signal}`, async () => {
      const spill = tempDir('pp-spill-');
      const first = await startStoreProcess('4MiB', ['-e', `file://${spill}`]);
      const objects = await fill(first.socketPath, 40); // ~2 MB into a 4 MiB store
      const client = await connectClient(first.socketPath);
      await client.evict(64 * 1024 * 1024); // spill everything unpinned
      const spilled = fs.readdirSync(spill).filter((n) => n.endsWith('.obj')).map((n) => n.slice(0, 40));
      expect(spilled.length).toBe(objects.size);
      await first.stop(signal);
      expect(fs.readdirSync(spill).filter((n) => n.endsWith('.obj'))).toHaveLength(objects.size);

      const second = await startStoreProcess('4MiB', ['-e', `file://${spill}`]);
      const reader = await connectClient(second.socketPath);
      expect(await reader.contains(ObjectId.fromHex(spilled[0]!))).toBe(true);
      const found = await readAll(second.socketPath, [...objects.keys()]);
      for (const [hex, data] of objects) expect(found.get(hex)?.equals(data), hex).toBe(true);
    });
  }

  it('with a named region as well, every sealed object survives SIGKILL, in memory or spilled', async () => {
    const spill = tempDir('pp-spill-');
    const region = path.join('/dev/shm', `pp-test-spill-region-${process.pid}-${crypto.randomBytes(3).toString('hex')}`);
    onCleanup(() => fs.rmSync(region, { force: true }));
    const args = ['-e', `file://${spill}`, '--region', region];
    const first = await startStoreProcess('4MiB', args);
    const objects = await fill(first.socketPath, 120); // ~6 MB through a 4 MiB store: some spill
    expect(fs.readdirSync(spill).length).toBeGreaterThan(0);
    await first.stop('SIGKILL');
    const second = await startStoreProcess('4MiB', args);
    const found = await readAll(second.socketPath, [...objects.keys()]);
    for (const [hex, data] of objects) expect(found.get(hex)?.equals(data), hex).toBe(true);
  });
});
