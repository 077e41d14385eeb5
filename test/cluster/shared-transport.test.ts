// Remote get over the shared transport: a client on node B reads node A's memory in place, with
// the real pyarrow 11 client and with our TypeScript client (zero-copy Arrow), and cluster-wide
// waiting for objects sealed later elsewhere.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeTable } from 'apache-arrow';
import { connect } from '../../src/client/plasma-client.js';
import { getTable, putTable } from '../../src/arrow/table-objects.js';
import { native } from '../../src/native/index.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { startTestCluster } from '../helpers/processes.js';
import { PyAgent, mappingsOf, newId, waitConnected } from './agents.js';

describe('cluster: shared transport (zero-copy remote get)', () => {
  it('1. a pyarrow client on B reads an object created by a pyarrow client on A, in A\'s region', async () => {
    const cluster = await startTestCluster({ nodes: 3 });
    await waitConnected(cluster);
    const [a, b] = cluster.nodes;
    expect(a!.regionPath).toMatch(/^\/dev\/shm\//);
    expect(b!.regionPath).not.toBe(a!.regionPath);
    const [onA, onB] = await Promise.all([PyAgent.start(a!.socketPath), PyAgent.start(b!.socketPath)]);
    const id = newId();
    const put = await onA.must('put', { id, size: 3 * 1024 * 1024 + 17 });

    // Before the get, B's client has not mapped A's region.
    expect(mappingsOf(onB.maps(), a!.regionPath)).toHaveLength(0);
    const got = await onB.must('get', { id, timeout_ms: 5000 });
    expect(got.found).toBe(true);
    expect(got.size).toBe(3 * 1024 * 1024 + 17);
    expect(got.sha256).toBe(put.sha256);

    // The buffer B's client read lies inside a mapping of A's region file.
    const ranges = mappingsOf(onB.maps(), a!.regionPath);
    expect(ranges.length).toBeGreaterThan(0);
    const address = BigInt(got.address as number);
    expect(ranges.some((r) => address >= r.start && address + BigInt(got.size as number) <= r.end)).toBe(true);
    // ...and B's store did not copy it: B's region holds nothing.
    expect((await onB.must('list')).objects).toEqual({});
    // A sees B's pin (ref_count counts B's store as one holder).
    expect(((await onA.must('list')).objects as Record<string, { ref_count: number }>)[id]!.ref_count).toBe(1);
    await onB.must('release', { id });
  });

  it('2. a TypeScript getTable on B of a table put on A has column buffers that are views of A\'s region', async () => {
    const cluster = await startTestCluster({ nodes: 3 });
    await waitConnected(cluster);
    const [a, b] = cluster.nodes;
    const producer = await connect(a!.socketPath);
    const consumer = await connect(b!.socketPath);
    try {
      const rows = 100_000;
      const ints = Int32Array.from({ length: rows }, (_, i) => i * 7);
      const floats = Float64Array.from({ length: rows }, (_, i) => i / 3);
      const table = makeTable({ i: ints, f: floats });
      const id = ObjectId.fromHex(newId());
      await putTable(producer, id, table);

      const remote = await getTable(consumer, id, { timeoutMs: 5000 });
      expect(remote.numRows).toBe(rows);
      const values = remote.getChild('i')!.data[0]!.values as Int32Array;
      const doubles = remote.getChild('f')!.data[0]!.values as Float64Array;
      expect(Buffer.from(values.buffer, values.byteOffset, values.byteLength).equals(Buffer.from(ints.buffer))).toBe(true);
      expect(doubles[rows - 1]).toBe((rows - 1) / 3);

      const ranges = mappingsOf(fs.readFileSync('/proc/self/maps', 'utf8'), a!.regionPath);
      expect(ranges.length).toBeGreaterThan(0);
      for (const column of [values, doubles]) {
        const start = native.addressOf(column);
        expect(ranges.some((r) => start >= r.start && start + BigInt(column.byteLength) <= r.end)).toBe(true);
      }
      // Not a view of B's own region: B never allocated it.
      expect(await consumer.list()).toEqual([]);
    } finally {
      consumer.close();
      producer.close();
    }
  });

  it('9. a get with a timeout on B completes promptly after a later seal on A; a never-created id times out', async () => {
    const cluster = await startTestCluster({ nodes: 3 });
    await waitConnected(cluster);
    const [a, b] = cluster.nodes;
    const [onA, onB] = await Promise.all([PyAgent.start(a!.socketPath), PyAgent.start(b!.socketPath)]);
    const id = newId();
    await onA.must('create', { id, size: 4096 });
    const waiting = onB.call('get', { id, timeout_ms: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sealedAt = performance.now();
    await onA.must('seal', { id });
    const got = await waiting;
    const afterSeal = performance.now() - sealedAt;
    expect(got.found).toBe(true);
    expect(got.size).toBe(4096);
    // Prompt: woken by A's event, not by a poll or the timeout.
    expect(afterSeal).toBeLessThan(500);

    const never = await onB.must('get', { id: newId(), timeout_ms: 700 });
    expect(never.found).toBe(false);
    expect(never.elapsed_ms as number).toBeGreaterThanOrEqual(650);
    expect(never.elapsed_ms as number).toBeLessThan(2500);
  });
});
