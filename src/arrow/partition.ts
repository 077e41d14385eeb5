/**
 * Hash partitioning of an Arrow table by key columns: one hash per row over the key columns'
 * typed arrays, a partition number per row, a counting sort that lists each partition's rows in
 * order, then every column gathered per partition. The work is a handful of passes over typed
 * arrays; no row is ever materialised as an object.
 */
import { DataType, RecordBatch, Struct, Table, makeData, type Data, type Schema } from 'apache-arrow';
import { combineHashes, hashData, isHashableKeyType } from './partition-hash.js';
import { chunkRuns, gatherColumn } from './partition-gather.js';

export interface PartitionOptions {
  /**
   * Rows hashed and gathered at once (default 1,048,576). Each slice of the input yields one
   * record batch per partition, so this bounds the scratch memory and the batch size.
   */
  sliceRows?: number;
}

/** A table split into partitions: partition p is `new Table(schema, batches[p])`. */
export interface PartitionedTable {
  schema: Schema;
  /** Record batches of each partition (empty batches are left out). */
  batches: RecordBatch[][];
  /** Rows of each partition. */
  rows: number[];
}

const DEFAULT_SLICE_ROWS = 1 << 20;

/** Check the key names against the schema and return their column positions. */
export function keyColumnIndices(schema: Schema, keys: readonly string[]): number[] {
  if (keys.length === 0) throw new TypeError('name at least one key column to partition by');
  return keys.map((key) => {
    const index = schema.fields.findIndex((f) => f.name === key);
    if (index < 0) {
      throw new TypeError(`no column ${JSON.stringify(key)} to partition by: the columns are ${schema.fields.map((f) => f.name).join(', ')}`);
    }
    const type = schema.fields[index]!.type;
    if (!isHashableKeyType(type)) throw new TypeError(`column ${JSON.stringify(key)} (${String(type)}) cannot be a partition key`);
    return index;
  });
}

function checkPartitions(partitions: number): void {
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 65535) {
    throw new RangeError(`partitions must be a whole number from 1 to 65535, got ${partitions}`);
  }
}

/**
 * Hash of every row over the key columns of `batches` (in order). The same key values give the
 * same hash in every process, whatever the chunking or string encoding.
 */
export function hashRows(batches: readonly RecordBatch[], keyIndices: readonly number[]): Uint32Array {
  const total = batches.reduce((n, b) => n + b.numRows, 0);
  const combined = new Uint32Array(total);
  const column = new Uint32Array(total);
  for (const k of keyIndices) {
    let at = 0;
    for (const batch of batches) {
      hashData(batch.data.children[k]!, column, at);
      at += batch.numRows;
    }
    combineHashes(combined, column);
  }
  return combined;
}

/** The partition of each hash: hash mod P. */
export function partitionOfHashes(hashes: Uint32Array, partitions: number): Uint16Array {
  checkPartitions(partitions);
  const out = new Uint16Array(hashes.length);
  for (let i = 0; i < hashes.length; i++) out[i] = hashes[i]! % partitions;
  return out;
}

/**
 * Counting sort of rows by partition: `indices[starts[p] .. starts[p + 1])` are the rows of
 * partition p, in ascending order.
 */
export function partitionIndices(partitionOfRow: Uint16Array, partitions: number): { indices: Uint32Array; starts: Uint32Array } {
  const starts = new Uint32Array(partitions + 1);
  for (let i = 0; i < partitionOfRow.length; i++) starts[partitionOfRow[i]! + 1]!++;
  for (let p = 0; p < partitions; p++) starts[p + 1]! += starts[p]!;
  const next = starts.slice(0, partitions);
  const indices = new Uint32Array(partitionOfRow.length);
  for (let i = 0; i < partitionOfRow.length; i++) indices[next[partitionOfRow[i]!]!++] = i;
  return { indices, starts };
}

/** Group consecutive batches into slices of at most `sliceRows` rows that share their dictionaries. */
function slicesOf(batches: readonly RecordBatch[], sliceRows: number): RecordBatch[][] {
  const slices: RecordBatch[][] = [];
  let current: RecordBatch[] = [];
  let rows = 0;
  for (const batch of batches) {
    if (batch.numRows === 0) continue;
    const previous = current[current.length - 1];
    if (previous && (rows + batch.numRows > sliceRows || !sameDictionaries(previous, batch))) {
      slices.push(current);
      current = [];
      rows = 0;
    }
    current.push(batch);
    rows += batch.numRows;
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

function sameDictionaries(a: RecordBatch, b: RecordBatch): boolean {
  const ca = a.data.children;
  const cb = b.data.children;
  return ca.every((data, i) => !DataType.isDictionary(data.type) || data.dictionary === cb[i]!.dictionary);
}

/**
 * Split a table into `partitions` partitions by the hash of its key columns. Every row lands in
 * exactly one partition; rows with equal keys land in the same one; within a partition, rows keep
 * their input order.
 */
export function partitionTable(table: Table, keys: readonly string[], partitions: number, options: PartitionOptions = {}): PartitionedTable {
  checkPartitions(partitions);
  const keyIndices = keyColumnIndices(table.schema, keys);
  const sliceRows = options.sliceRows ?? DEFAULT_SLICE_ROWS;
  const schema = table.schema;
  const structType = new Struct(schema.fields);
  const batches: RecordBatch[][] = Array.from({ length: partitions }, () => []);
  const rows = new Array<number>(partitions).fill(0);

  for (const slice of slicesOf(table.batches, sliceRows)) {
    const chunkStarts = [0];
    for (const batch of slice) chunkStarts.push(chunkStarts[chunkStarts.length - 1]! + batch.numRows);
    const hashes = hashRows(slice, keyIndices);
    const { indices, starts } = partitionIndices(partitionOfHashes(hashes, partitions), partitions);
    const columns: Data[][] = schema.fields.map((_, c) => slice.map((batch) => batch.data.children[c]!));
    for (let p = 0; p < partitions; p++) {
      const mine = indices.subarray(starts[p]!, starts[p + 1]!);
      if (mine.length === 0) continue;
      const runs = chunkRuns(chunkStarts, mine);
      const children = columns.map((chunks) => gatherColumn(chunks, runs, mine));
      batches[p]!.push(new RecordBatch(schema, makeData({ type: structType, length: mine.length, nullCount: 0, children })));
      rows[p]! += mine.length;
    }
  }
  return { schema, batches, rows };
}
