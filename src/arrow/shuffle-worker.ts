/**
 * A shuffle worker process: one mapper or one reducer, attached to its own node's store. Started
 * by shuffle-runner with child_process.fork; talks to its parent over the IPC channel:
 *
 *   parent → worker  {type: 'start', task}   connect (and, for a copy reducer, listen)
 *   worker → parent  {type: 'ready'}
 *   parent → worker  {type: 'go'}            run the task
 *   worker → parent  {type: 'result', result} | {type: 'error', error}, then exit
 */
import { connect } from '../client/plasma-client.js';
import type { PlasmaClient } from '../client/plasma-client.js';
import { getTable } from './table-objects.js';
import { partitionTable } from './partition.js';
import { gatherPartition, inputObjectId, mapToStore } from './shuffle.js';
import { PartitionReceiver, sendPartitions } from './copy-exchange.js';
import { checkPartition, groupStats } from './shuffle-stats.js';
import type { MapperReport, MapperTask, ReducerReport, ReducerTask, WorkerMessage, WorkerTask } from './shuffle-protocol.js';
import { tableViewsOnly } from './shuffle-protocol.js';

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

function nextMessage<T extends { type: string }>(type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: T) => {
      if (message?.type !== type) return;
      process.off('message', onMessage);
      process.off('disconnect', onDisconnect);
      resolve(message);
    };
    const onDisconnect = () => reject(new Error('the shuffle coordinator went away'));
    process.on('message', onMessage);
    process.once('disconnect', onDisconnect);
  });
}

async function runMapper(client: PlasmaClient, task: MapperTask): Promise<MapperReport> {
  const t0 = performance.now();
  const input = await getTable(client, inputObjectId(task.job, task.mapper), { timeoutMs: task.timeoutMs });
  const readMs = performance.now() - t0;
  if (task.exchange.kind === 'zero-copy') {
    const { manifest, timings } = await mapToStore(client, input, task);
    return { role: 'mapper', mapper: task.mapper, inputRows: input.numRows, rows: manifest.rows, bytes: manifest.bytes, timings: { readMs, ...timings } };
  }
  const t1 = performance.now();
  const parts = partitionTable(input, task.keys, task.partitions, task);
  const partitionMs = performance.now() - t1;
  const sent = await sendPartitions(task.exchange.reducerSockets, { job: task.job, mapper: task.mapper }, parts.schema, parts.batches, task.timeoutMs);
  return {
    role: 'mapper',
    mapper: task.mapper,
    inputRows: input.numRows,
    rows: parts.rows,
    bytes: sent.bytes,
    timings: { readMs, partitionMs, publishMs: sent.serializeMs + sent.sendMs, serializeMs: sent.serializeMs, sendMs: sent.sendMs },
  };
}

async function runReducer(client: PlasmaClient, task: ReducerTask, receiver: PartitionReceiver | null): Promise<ReducerReport> {
  let table;
  let rowsPerMapper: number[];
  let gatherMs: number;
  let zeroCopy: boolean;
  let bytes: number[];
  const t0 = performance.now();
  if (receiver) {
    const received = await receiver.collect(task.timeoutMs);
    table = received.table;
    rowsPerMapper = received.rowsPerMapper;
    gatherMs = performance.now() - t0;
    bytes = received.bytes;
    zeroCopy = tableViewsOnly(table, received.buffers.map((b) => b.buffer));
  } else {
    const gathered = await gatherPartition(client, task);
    table = gathered.table;
    rowsPerMapper = gathered.rowsPerMapper;
    gatherMs = gathered.gatherMs;
    bytes = gathered.objects.map((o) => o.dataSize);
    // The proof of zero-copy: every column buffer is a view of an object's shared memory.
    zeroCopy = tableViewsOnly(
      table,
      gathered.objects.map((o) => o.buffer),
    );
  }
  const t1 = performance.now();
  const stats = task.groupStats ? groupStats(table, task.groupStats.by, task.groupStats.value) : undefined;
  const t2 = performance.now();
  const check = task.check ? checkPartition(table, task.keys, task.partition, task.partitions) : undefined;
  const t3 = performance.now();
  return {
    role: 'reducer',
    partition: task.partition,
    rows: table.numRows,
    chunks: table.batches.length,
    rowsPerMapper,
    bytes,
    zeroCopy,
    groupStats: stats,
    check,
    timings: { gatherMs, computeMs: t2 - t1, checkMs: t3 - t2 },
  };
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('shuffle-worker runs as a child of the shuffle coordinator (child_process.fork)');
  const { task } = await nextMessage<{ type: 'start'; task: WorkerTask }>('start');
  const client = await connect(task.socket);
  let receiver: PartitionReceiver | null = null;
  try {
    if (task.role === 'reducer' && task.exchange.kind === 'copy') {
      receiver = await PartitionReceiver.listen(task.exchange.listen, task.job, task.partition, task.mappers);
    }
    await send({ type: 'ready' });
    await nextMessage('go');
    const result = task.role === 'mapper' ? await runMapper(client, task) : await runReducer(client, task, receiver);
    await send({ type: 'result', result });
  } finally {
    await receiver?.close();
    client.close();
  }
}

main().then(
  () => process.disconnect?.(),
  async (error: unknown) => {
    const e = error as Error & { code?: string };
    if (process.connected) {
      await send({ type: 'error', error: { name: e.name, message: e.message, code: e.code, stack: e.stack } }).catch(() => undefined);
    } else {
      process.stderr.write(`shuffle-worker: ${e.stack ?? String(e)}\n`);
    }
    process.exitCode = 1;
    process.disconnect?.();
  },
);
