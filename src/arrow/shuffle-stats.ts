/**
 * What reducers compute and how a shuffle is checked: per-group statistics of a numeric column
 * (exact: integer sums stay below 2^53), a routing check (every row of partition p hashes to p),
 * and an order-independent checksum of all rows, so the union of the partitions can be compared
 * with the input without sorting anything.
 */
import { DataType, type Data, type RecordBatch, type Table } from 'apache-arrow';
import { hashData, isHashableKeyType } from './partition-hash.js';
import { hashRows, keyColumnIndices } from './partition.js';

/** Statistics of one group. `sum`, `min`, `max`, `mean` cover the non-null values. */
export interface GroupStat {
  key: string | number | null;
  /** Rows in the group. */
  count: number;
  /** Rows with a non-null value. */
  values: number;
  sum: number;
  min: number | null;
  max: number | null;
  mean: number | null;
}

/** Sum of row hashes, two independent 32-bit lanes: equal multisets of rows give equal sums. */
export interface RowChecksum {
  rows: number;
  lo: number;
  hi: number;
}

export interface PartitionCheck {
  /** Rows whose keys hash to another partition (must be 0). */
  misrouted: number;
  checksum: RowChecksum;
}

// ------------------------------------------------------------ checksums and routing

/** Columns that take part in the checksum (all hashable ones). */
function checksumColumns(table: Table): number[] {
  return table.schema.fields.flatMap((f, i) => (isHashableKeyType(f.type) ? [i] : []));
}

/** Order-independent checksum over the rows of `table` (all columns of hashable types). */
export function rowChecksum(table: Table): RowChecksum {
  const columns = checksumColumns(table);
  let lo = 0;
  let hi = 0;
  let rows = 0;
  for (const batch of table.batches) {
    const hashes = hashRows([batch], columns);
    for (let i = 0; i < hashes.length; i++) {
      const h = hashes[i]!;
      lo = (lo + h) >>> 0;
      hi = (hi + Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)) >>> 0;
    }
    rows += batch.numRows;
  }
  return { rows, lo, hi };
}

/** Add checksums of disjoint parts. */
export function addChecksums(parts: readonly RowChecksum[]): RowChecksum {
  return parts.reduce((a, b) => ({ rows: a.rows + b.rows, lo: (a.lo + b.lo) >>> 0, hi: (a.hi + b.hi) >>> 0 }), { rows: 0, lo: 0, hi: 0 });
}

/** Check a reducer's table: rows routed to the right partition, and its checksum. */
export function checkPartition(table: Table, keys: readonly string[], partition: number, partitions: number): PartitionCheck {
  const keyIndices = keyColumnIndices(table.schema, keys);
  let misrouted = 0;
  for (const batch of table.batches) {
    const hashes = hashRows([batch], keyIndices);
    for (let i = 0; i < hashes.length; i++) if (hashes[i]! % partitions !== partition) misrouted++;
  }
  return { misrouted, checksum: rowChecksum(table) };
}

// ------------------------------------------------------------ group statistics

/** Reads a numeric column's values as doubles (64-bit integers through their words, exact to 2^53). */
function numberReader(data: Data): (i: number) => number {
  const type = data.type;
  if (DataType.isInt(type) && type.bitWidth === 64) {
    const values = data.values as unknown as BigInt64Array;
    const words = new Int32Array(values.buffer, values.byteOffset, values.length * 2);
    return type.isSigned
      ? (i) => words[2 * i + 1]! * 4294967296 + (words[2 * i]! >>> 0)
      : (i) => (words[2 * i + 1]! >>> 0) * 4294967296 + (words[2 * i]! >>> 0);
  }
  if (DataType.isInt(type) || DataType.isFloat(type)) {
    const values = data.values as unknown as ArrayLike<number>;
    return (i) => values[i]!;
  }
  throw new TypeError(`group statistics need a numeric value column, not ${String(type)}`);
}

function validity(data: Data): (i: number) => boolean {
  const bitmap = data.nullBitmap;
  if (data.nullCount === 0 || !bitmap || bitmap.byteLength === 0) return () => true;
  return (i) => {
    const bit = data.offset + i;
    return (bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0;
  };
}

interface Accumulator {
  key: string | number | null;
  count: number;
  values: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * Resolves each row of a key column to a group. Strings are grouped by hash, and a row joins a
 * group only if its bytes equal the group's first key (so hash collisions cannot merge groups).
 */
class Grouper {
  readonly groups: Accumulator[] = [];
  private readonly byHash = new Map<number, number[]>();
  private readonly byNumber = new Map<number, number>();
  private nullGroup = -1;
  private readonly decoder = new TextDecoder();
  private readonly keyBytes: Uint8Array[] = [];

  private newGroup(key: string | number | null): number {
    this.groups.push({ key, count: 0, values: 0, sum: 0, min: Infinity, max: -Infinity });
    return this.groups.length - 1;
  }

  nullKey(): number {
    if (this.nullGroup < 0) this.nullGroup = this.newGroup(null);
    return this.nullGroup;
  }

  numberKey(value: number): number {
    let g = this.byNumber.get(value);
    if (g === undefined) {
      g = this.newGroup(value);
      this.byNumber.set(value, g);
    }
    return g;
  }

  stringKey(hash: number, bytes: Uint8Array, begin: number, end: number): number {
    let candidates = this.byHash.get(hash);
    if (candidates) {
      for (const g of candidates) {
        const key = this.keyBytes[g]!;
        if (key.byteLength !== end - begin) continue;
        let same = true;
        for (let i = 0; i < key.byteLength && same; i++) same = key[i] === bytes[begin + i];
        if (same) return g;
      }
    } else {
      candidates = [];
      this.byHash.set(hash, candidates);
    }
    const copy = bytes.slice(begin, end);
    const g = this.newGroup(this.decoder.decode(copy));
    this.keyBytes[g] = copy;
    candidates.push(g);
    return g;
  }
}

/** Group ids of the rows of one key chunk. */
function groupIds(grouper: Grouper, data: Data, out: Uint32Array): void {
  const type = data.type;
  const n = data.length;
  const valid = validity(data);
  if (DataType.isDictionary(type)) {
    // Resolve each dictionary entry once, then map the indices.
    const dictionary = data.dictionary!;
    const entryGroups = new Int32Array(dictionary.length).fill(-1);
    const dictionaryData = dictionary.data;
    let base = 0;
    for (const chunk of dictionaryData) {
      const ids = new Uint32Array(chunk.length);
      groupIds(grouper, chunk, ids);
      entryGroups.set(ids, base);
      base += chunk.length;
    }
    const indices = data.values as unknown as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) out[i] = valid(i) ? entryGroups[Number(indices[i]!)]! : grouper.nullKey();
    return;
  }
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type) || DataType.isBinary(type) || DataType.isLargeBinary(type)) {
    const hashes = new Uint32Array(n);
    hashData(data, hashes, 0);
    const bytes = data.values as Uint8Array;
    const offsets = data.valueOffsets as unknown as Int32Array | BigInt64Array;
    const read =
      offsets instanceof Int32Array
        ? (i: number) => offsets[i]!
        : ((words: Int32Array) => (i: number) => (words[2 * i]! >>> 0) + words[2 * i + 1]! * 4294967296)(
            new Int32Array(offsets.buffer, offsets.byteOffset, offsets.length * 2),
          );
    for (let i = 0; i < n; i++) out[i] = valid(i) ? grouper.stringKey(hashes[i]!, bytes, read(i), read(i + 1)) : grouper.nullKey();
    return;
  }
  if (DataType.isInt(type)) {
    const read = numberReader(data);
    for (let i = 0; i < n; i++) out[i] = valid(i) ? grouper.numberKey(read(i)) : grouper.nullKey();
    return;
  }
  throw new TypeError(`group statistics group by strings, dictionaries of strings or integers, not ${String(type)}`);
}

/**
 * Per-group count, sum, min, max and mean of `value`, grouped by `by`; sorted by key. Exact as
 * long as every partial sum stays within 2^53 (checked).
 */
export function groupStats(table: Table | { schema: Table['schema']; batches: RecordBatch[] }, by: string, value: string): GroupStat[] {
  const byIndex = table.schema.fields.findIndex((f) => f.name === by);
  const valueIndex = table.schema.fields.findIndex((f) => f.name === value);
  if (byIndex < 0) throw new TypeError(`no column ${JSON.stringify(by)} to group by`);
  if (valueIndex < 0) throw new TypeError(`no column ${JSON.stringify(value)} to summarise`);
  const grouper = new Grouper();
  let ids = new Uint32Array(0);
  for (const batch of table.batches) {
    const n = batch.numRows;
    if (ids.length < n) ids = new Uint32Array(n);
    groupIds(grouper, batch.data.children[byIndex]!, ids);
    const valueData = batch.data.children[valueIndex]!;
    const read = numberReader(valueData);
    const valid = validity(valueData);
    const groups = grouper.groups;
    for (let i = 0; i < n; i++) {
      const g = groups[ids[i]!]!;
      g.count++;
      if (!valid(i)) continue;
      const v = read(i);
      g.values++;
      g.sum += v;
      if (v < g.min) g.min = v;
      if (v > g.max) g.max = v;
    }
  }
  return grouper.groups
    .map((g): GroupStat => {
      if (!Number.isSafeInteger(g.sum) && Number.isInteger(g.min)) {
        throw new RangeError(`the sum of ${value} for ${String(g.key)} left the range where doubles are exact (2^53)`);
      }
      return {
        key: g.key,
        count: g.count,
        values: g.values,
        sum: g.sum,
        min: g.values > 0 ? g.min : null,
        max: g.values > 0 ? g.max : null,
        mean: g.values > 0 ? g.sum / g.values : null,
      };
    })
    .sort(compareKeys);
}

function compareKeys(a: GroupStat, b: GroupStat): number {
  if (a.key === b.key) return 0;
  if (a.key === null) return 1;
  if (b.key === null) return -1;
  return a.key < b.key ? -1 : 1;
}

/** Merge the group statistics of reducers (their groups are disjoint after a correct shuffle). */
export function mergeGroupStats(parts: readonly GroupStat[][]): GroupStat[] {
  const seen = new Set<string | number | null>();
  const all: GroupStat[] = [];
  for (const part of parts) {
    for (const stat of part) {
      if (seen.has(stat.key)) throw new Error(`group ${String(stat.key)} came out of two reducers: the shuffle routed it to two partitions`);
      seen.add(stat.key);
      all.push(stat);
    }
  }
  return all.sort(compareKeys);
}

/** Differences between two lists of group statistics (empty when they match exactly). */
export function diffGroupStats(actual: readonly GroupStat[], expected: readonly GroupStat[], limit = 5): string[] {
  const differences: string[] = [];
  const expectedByKey = new Map(expected.map((s) => [s.key, s]));
  for (const stat of actual) {
    const other = expectedByKey.get(stat.key);
    if (!other) differences.push(`group ${String(stat.key)} is not in the expected result`);
    else if (JSON.stringify(stat) !== JSON.stringify(other)) differences.push(`group ${String(stat.key)}: ${JSON.stringify(stat)} != ${JSON.stringify(other)}`);
    expectedByKey.delete(stat.key);
  }
  for (const key of expectedByKey.keys()) differences.push(`group ${String(key)} is missing`);
  return differences.slice(0, limit);
}
