/**
 * What the shuffle coordinator and its worker processes say to each other: tasks, reports and
 * messages (plain JSON over the fork IPC channel), and the zero-copy check reducers report.
 */
import type { Data, Table } from 'apache-arrow';
import type { GroupStat, PartitionCheck } from './shuffle-stats.js';

export type Exchange = 'zero-copy' | 'copy';

interface TaskBase {
  /** The store this worker attaches to: its own node's socket. */
  socket: string;
  job: string;
  mappers: number;
  partitions: number;
  keys: string[];
  /** How long to wait for an input or a partition, ms. */
  timeoutMs: number;
}

export interface MapperTask extends TaskBase {
  role: 'mapper';
  mapper: number;
  sliceRows?: number;
  /** zero-copy: put partitions into the store; copy: send each to its reducer's socket. */
  exchange: { kind: 'zero-copy' } | { kind: 'copy'; reducerSockets: string[] };
}

export interface ReducerTask extends TaskBase {
  role: 'reducer';
  partition: number;
  exchange: { kind: 'zero-copy' } | { kind: 'copy'; listen: string };
  /** Recompute each row's partition and a checksum of the rows. */
  check: boolean;
  /** Per-group statistics of a numeric column. */
  groupStats?: { by: string; value: string };
}

export type WorkerTask = MapperTask | ReducerTask;

export interface MapperReport {
  role: 'mapper';
  mapper: number;
  inputRows: number;
  rows: number[];
  bytes: number[];
  timings: { readMs: number; partitionMs: number; publishMs: number; serializeMs?: number; sendMs?: number };
}

export interface ReducerReport {
  role: 'reducer';
  partition: number;
  rows: number;
  chunks: number;
  rowsPerMapper: number[];
  bytes: number[];
  /** Every column buffer of the reducer's table is a view of received memory (store object or socket buffer). */
  zeroCopy: boolean;
  groupStats?: GroupStat[];
  check?: PartitionCheck;
  timings: { gatherMs: number; computeMs: number; checkMs: number };
}

export type WorkerReport = MapperReport | ReducerReport;

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'result'; result: WorkerReport }
  | { type: 'error'; error: { name: string; message: string; code?: string; stack?: string } };

/** Every buffer of a Data tree (values, offsets, validity, dictionaries, children). */
function* buffersOf(data: Data): Generator<ArrayBufferView> {
  for (const buffer of [data.values, data.valueOffsets, data.nullBitmap, data.typeIds] as (ArrayBufferView | undefined | null)[]) {
    if (buffer && ArrayBuffer.isView(buffer) && buffer.byteLength > 0) yield buffer;
  }
  for (const child of data.children) yield* buffersOf(child);
  if (data.dictionary) for (const d of data.dictionary.data) yield* buffersOf(d);
}

/** True if every column buffer of `table` is a view into one of `memory` (nothing was copied out). */
export function tableViewsOnly(table: Table, memory: readonly ArrayBufferLike[]): boolean {
  const allowed = new Set<ArrayBufferLike>(memory);
  for (const batch of table.batches) {
    for (const buffer of buffersOf(batch.data)) if (!allowed.has(buffer.buffer)) return false;
  }
  return true;
}
