/**
 * Arrow tables from TypeScript: putTable (measure, create, serialize straight into the object,
 * seal) and getTable (get, zero-copy tableFromIPC over the object) for one float64 column of
 * `size` bytes, local and remote, against the way without a store: tableToIPC + a copy into a
 * buffer (put) and tableFromIPC over that heap buffer (get).
 */
import { tableFromArrays, tableFromIPC, tableToIPC, type Table } from 'apache-arrow';
import { connect, type PlasmaClient } from '../../src/client/plasma-client.js';
import { getTable, ipcStreamSize, putTable } from '../../src/arrow/table-objects.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import type { Workload } from '../lib/options.js';
import type { TableOp, TableRow } from '../lib/results.js';
import { opStats, type RepeatSamples } from '../lib/stats.js';
import { sliceOf, touchAll } from '../lib/touch.js';

export interface TableRun {
  producerSocket: string;
  consumerSocket: string;
  placement: 'local' | 'shared';
  workloads: Workload[];
  source: Uint8Array;
  /** Measure the no-store baselines too (once per size is enough: they do not depend on placement). */
  baselines: boolean;
  /** Unrecorded repeats run first. */
  warmup: number;
  onRepeat(workload: Workload): void;
}

function makeTable(source: Uint8Array, size: number): Table {
  const values = new Float64Array(size / 8);
  new Uint8Array(values.buffer).set(sliceOf(source, 1, size));
  return tableFromArrays({ x: values });
}

function touchTable(table: Table): void {
  for (const batch of table.batches) {
    const values = batch.getChildAt(0)!.data[0]!.values as Float64Array;
    touchAll(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }
}

export async function runTables(run: TableRun): Promise<TableRow[]> {
  const producer = await connect(run.producerSocket);
  let consumer: PlasmaClient | null = null;
  try {
    const rows: TableRow[] = [];
    for (const w of run.workloads) {
      const table = makeTable(run.source, w.size);
      const objectBytes = ipcStreamSize(table.schema, table.batches);
      const samples: Record<TableOp, RepeatSamples> = { putTable: [], getTable: [], read: [], ipcCopy: [], fromIpcHeap: [] };
      // Faulted in up front: the store's region is pre-faulted too, so both sides copy into warm pages.
      const heap = new Uint8Array(objectBytes).fill(1);
      // Baselines: about 100 MB of serialization per repeat at most (tableToIPC is slow).
      const baselineSamples = run.baselines ? Math.max(1, Math.min(w.count, Math.floor(1e8 / objectBytes))) : 0;
      for (let r = -run.warmup; r < w.repeats; r++) {
        consumer = await connect(run.consumerSocket);
        const ids = Array.from({ length: w.count }, () => ObjectId.random());
        const put: number[] = [];
        const get: number[] = [];
        const read: number[] = [];
        for (const id of ids) {
          const t0 = performance.now();
          await putTable(producer, id, table);
          put.push((performance.now() - t0) * 1e3);
        }
        const tables: Table[] = [];
        for (const id of ids) {
          const t0 = performance.now();
          tables.push(await getTable(consumer, id, { timeoutMs: 30_000 }));
          get.push((performance.now() - t0) * 1e3);
        }
        for (const t of tables) {
          const t0 = performance.now();
          touchTable(t);
          read.push((performance.now() - t0) * 1e3);
        }
        if (tables[0]!.numRows !== table.numRows) throw new Error(`getTable returned ${tables[0]!.numRows} rows, ${table.numRows} were put`);
        // getTable's objects stay pinned until their tables are collected: closing the consumer
        // releases them all at the store now.
        consumer.close();
        consumer = null;
        await producer.delete(ids);
        const ipc: number[] = [];
        const fromIpc: number[] = [];
        for (let i = 0; i < (r < 0 ? Math.min(1, baselineSamples) : baselineSamples); i++) {
          const t0 = performance.now();
          heap.set(tableToIPC(table, 'stream'));
          const t1 = performance.now();
          const copy = tableFromIPC(heap);
          const t2 = performance.now();
          touchTable(copy);
          ipc.push((t1 - t0) * 1e3);
          fromIpc.push((t2 - t1) * 1e3);
        }
        run.onRepeat(w);
        if (r < 0) continue;
        samples.putTable.push(put);
        samples.getTable.push(get);
        samples.read.push(read);
        if (baselineSamples > 0) {
          samples.ipcCopy.push(ipc);
          samples.fromIpcHeap.push(fromIpc);
        }
      }
      const ops: TableRow['ops'] = {};
      for (const op of Object.keys(samples) as TableOp[]) if (samples[op].length > 0) ops[op] = opStats(samples[op], objectBytes);
      rows.push({ placement: run.placement, count: w.count, size: w.size, objectBytes, repeats: w.repeats, ops });
    }
    return rows;
  } finally {
    consumer?.close();
    producer.close();
  }
}
