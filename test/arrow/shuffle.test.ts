/**
 * The shuffle over real stores: zero-copy gathering (the reducer's columns are the store's
 * memory), mapper and reducer processes end to end on a local cluster for both exchanges, clear
 * errors for missing partitions, and no objects left behind. Stores, sockets and region files are
 * removed by the process helpers after each test, pass or fail.
 */
import { describe, expect, it } from 'vitest';
import { Table, Utf8, makeVector, vectorFromArray, Int64 } from 'apache-arrow';
import { connect, type PlasmaClient } from '../../src/client/plasma-client.js';
import { startStoreProcess, startTestCluster as startCluster, onCleanup, tempDir } from '../helpers/processes.js';
import {
  deleteShuffleJob,
  gatherPartition,
  mapToStore,
  partitionObjectId,
  ShufflePartitionMissingError,
  jobObjectIds,
} from '../../src/arrow/shuffle.js';
import { PartitionReceiver, sendPartitions } from '../../src/arrow/copy-exchange.js';
import { partitionTable } from '../../src/arrow/partition.js';
import { runShuffle, shuffleVerified } from '../../src/arrow/shuffle-runner.js';
import { groupStats } from '../../src/arrow/shuffle-stats.js';
import { splitTable } from '../../src/arrow/dataset.js';
import { tableViewsOnly } from '../../src/arrow/shuffle-protocol.js';
import path from 'node:path';
import { waitForClusterPeers } from '../../src/cli/shuffle-command.js';

const airports = ['ATL', 'ORD', 'DFW', 'LAX', 'SFO', 'JFK', 'SEA', 'BOS', 'DEN', 'PHX', 'MSP', 'DTW'];

/** A flights-like table: origin (utf8), delay (int64), distance (float64). */
function flightsLike(rows: number, seed = 1): Table {
  const origin: string[] = [];
  const delay: bigint[] = [];
  const distance = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    const r = (i * 2654435761 + seed * 97) >>> 0;
    origin.push(airports[(r >>> 7) % airports.length]!);
    delay.push(BigInt((r % 301) - 60));
    distance[i] = 100 + (r % 2500);
  }
  return new Table({
    origin: vectorFromArray(origin, new Utf8()),
    delay: vectorFromArray(delay, new Int64()),
    distance: makeVector(distance),
  });
}

/** A test cluster whose stores have connected to each other (objects of peers are visible). */
async function startTestCluster(options: { nodes: number; memory: string }) {
  const cluster = await startCluster({ ...options, peerTimeoutMs: 5000 });
  await waitForClusterPeers(cluster);
  return cluster;
}

async function client(socketPath: string): Promise<PlasmaClient> {
  const c = await connect(socketPath);
  onCleanup(() => c.close());
  return c;
}

describe('gatherPartition (zero-copy)', () => {
  it('joins every mapper\'s partition into one table whose columns are the store\'s memory', async () => {
    const store = await startStoreProcess('128MiB');
    const c = await client(store.socketPath);
    const job = 'zc1';
    const inputs = splitTable(flightsLike(20_000), 2);
    for (let m = 0; m < 2; m++) await mapToStore(c, inputs[m]!, { job, mapper: m, partitions: 3, keys: ['origin'] });

    let total = 0;
    for (let p = 0; p < 3; p++) {
      const gathered = await gatherPartition(c, { job, partition: p, mappers: 2, timeoutMs: 1000 });
      total += gathered.table.numRows;
      expect(gathered.rowsPerMapper.reduce((a, b) => a + b, 0)).toBe(gathered.table.numRows);
      // No column byte was copied: every buffer lies in one of the two objects' memory...
      expect(tableViewsOnly(gathered.table, gathered.objects.map((o) => o.buffer))).toBe(true);
      // ...and chunk m of the table is mapper m's batch, over mapper m's object.
      const delayChunks = gathered.table.getChild('delay')!.data;
      expect(delayChunks).toHaveLength(2);
      delayChunks.forEach((data, m) => expect(data.values.buffer).toBe(gathered.objects[m]!.buffer));
      gathered.release();
    }
    expect(total).toBe(20_000);
  });

  it('reads partitions owned by another node of a cluster, still without copying', async () => {
    const cluster = await startTestCluster({ nodes: 2, memory: '64MiB' });
    const [a, b] = [await client(cluster.nodes[0]!.socketPath), await client(cluster.nodes[1]!.socketPath)];
    const job = 'zc2';
    await mapToStore(a, flightsLike(5_000), { job, mapper: 0, partitions: 2, keys: ['origin'] });
    await mapToStore(b, flightsLike(5_000, 2), { job, mapper: 1, partitions: 2, keys: ['origin'] });
    const gathered = await gatherPartition(b, { job, partition: 0, mappers: 2, timeoutMs: 2000 });
    const originChunks = gathered.table.getChild('origin')!.data;
    originChunks.forEach((data, m) => expect(data.values.buffer).toBe(gathered.objects[m]!.buffer));
    expect(gathered.table.numRows).toBeGreaterThan(0);
    gathered.release();
    await deleteShuffleJob([a, b], { job, mappers: 2, partitions: 2 });
  });
});

describe('missing partitions', () => {
  it('names the partition, the mapper and the job, and asks whether the mapper failed', async () => {
    const store = await startStoreProcess('64MiB');
    const c = await client(store.socketPath);
    await mapToStore(c, flightsLike(1000), { job: 'X', mapper: 0, partitions: 4, keys: ['origin'] });
    // Mapper 1 never ran.
    const error = await gatherPartition(c, { job: 'X', partition: 3, mappers: 2, timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShufflePartitionMissingError);
    expect((error as Error).message).toMatch(/^partition 3 of mapper 1 \(job X\) not available after 300 ms: did mapper 1 fail\?/);
    expect((error as ShufflePartitionMissingError).mappers).toEqual([1]);
    // Nothing stays pinned by the failed gather: the job deletes completely.
    await deleteShuffleJob([c], { job: 'X', mappers: 2, partitions: 4 });
    expect(await c.list()).toEqual([]);
  });

  it('tells a deleted partition of a finished mapper apart from a failed mapper', async () => {
    const store = await startStoreProcess('64MiB');
    const c = await client(store.socketPath);
    await mapToStore(c, flightsLike(1000), { job: 'Y', mapper: 0, partitions: 2, keys: ['origin'] });
    await c.delete([partitionObjectId('Y', 0, 1)]);
    const error = await gatherPartition(c, { job: 'Y', partition: 1, mappers: 1, timeoutMs: 100 }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/partition 1 of mapper 0 \(job Y\) not available after 100 ms, although mapper 0 finished: the object was deleted or evicted/);
  });

  it('copy exchange: a mapper that never sends is named after the timeout', async () => {
    const dir = tempDir();
    const receiver = await PartitionReceiver.listen(path.join(dir, 'r0.sock'), 'Z', 0, 2);
    onCleanup(() => receiver.close());
    const parts = partitionTable(flightsLike(1000), ['origin'], 1);
    await sendPartitions([receiver.socketPath], { job: 'Z', mapper: 0 }, parts.schema, parts.batches);
    const error = await receiver.collect(200).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^partition 0 of mapper 1 \(job Z\) not received after 200 ms: did mapper 1 fail\?/);
  });
});

describe('copy exchange (in process)', () => {
  it('delivers the same rows as the zero-copy path', async () => {
    const dir = tempDir();
    const inputs = splitTable(flightsLike(9_000), 3);
    const receivers = await Promise.all([0, 1].map((p) => PartitionReceiver.listen(path.join(dir, `r${p}.sock`), 'C', p, 3)));
    onCleanup(() => Promise.all(receivers.map((r) => r.close())).then(() => undefined));
    for (let m = 0; m < 3; m++) {
      const parts = partitionTable(inputs[m]!, ['origin'], 2);
      await sendPartitions(receivers.map((r) => r.socketPath), { job: 'C', mapper: m }, parts.schema, parts.batches);
    }
    const received = await Promise.all(receivers.map((r) => r.collect(1000)));
    expect(received.reduce((n, r) => n + r.table.numRows, 0)).toBe(9_000);
    received.forEach((r) => expect(tableViewsOnly(r.table, r.buffers.map((b) => b.buffer))).toBe(true));
    const whole = groupStats(flightsLike(9_000), 'origin', 'delay');
    const merged = received.flatMap((r) => groupStats(r.table, 'origin', 'delay')).sort((x, y) => String(x.key).localeCompare(String(y.key)));
    expect(merged).toEqual(whole);
  });
});

describe('runShuffle: mapper and reducer processes on a cluster', () => {
  for (const exchange of ['zero-copy', 'copy'] as const) {
    it(`${exchange}: matches the single-process result exactly and leaves no objects`, async () => {
      const cluster = await startTestCluster({ nodes: 2, memory: '64MiB' });
      const sockets = cluster.nodes.map((n) => n.socketPath);
      const table = flightsLike(60_000);
      const result = await runShuffle({
        sockets,
        inputs: splitTable(table, 2),
        keys: ['origin'],
        partitions: 3,
        exchange,
        timeoutMs: 20_000,
        groupStats: { by: 'origin', value: 'delay' },
      });
      expect(shuffleVerified(result)).toBe(true);
      expect(result.zeroCopy).toBe(true);
      expect(result.reducerReports.map((r) => r.rows).reduce((a, b) => a + b, 0)).toBe(60_000);
      expect(result.groupStats).toEqual(groupStats(table, 'origin', 'delay'));
      for (const socket of sockets) {
        const c = await client(socket);
        expect(await c.list()).toEqual([]);
      }
    });
  }

  it('reports a failing worker by name and still cleans up', async () => {
    const store = await startStoreProcess('64MiB');
    const error = await runShuffle({
      sockets: [store.socketPath],
      inputs: [flightsLike(100)],
      keys: ['no_such_column'],
      partitions: 2,
      exchange: 'zero-copy',
      timeoutMs: 2000,
      job: 'failing',
    }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^mapper 0 \(node 0\): no column "no_such_column" to partition by/);
    const c = await client(store.socketPath);
    expect(await c.list()).toEqual([]);
  });

  it('deleteShuffleJob removes inputs, partitions and manifests', async () => {
    const store = await startStoreProcess('64MiB');
    const c = await client(store.socketPath);
    const shape = { job: 'D', mappers: 2, partitions: 3 };
    for (let m = 0; m < 2; m++) await mapToStore(c, flightsLike(500, m), { ...shape, mapper: m, keys: ['origin'] });
    expect((await c.list()).length).toBe(2 * 3 + 2);
    expect(jobObjectIds(shape)).toHaveLength(2 * (3 + 2));
    await deleteShuffleJob([c], shape);
    expect(await c.list()).toEqual([]);
  });
});
