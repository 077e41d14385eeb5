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

/** A numeric column chunk's values as doubles (64-bit integers through their words, exact to 2^53). */
function valuesAsDoubles(data: Data, out: Float64Array): void {
  const type = data.type;
  const n = data.length;
  if (DataType.isInt(type) && type.bitWidth === 64) {
    const values = data.values as unknown as BigInt64Array;
    const words = new Int32Array(values.buffer, values.byteOffset, n * 2);
    if (type.isSigned) for (let i = 0; i < n; i++) out[i] = words[2 * i + 1]! * 4294967296 + (words[2 * i]! >>> 0);
    else for (let i = 0; i < n; i++) out[i] = (words[2 * i + 1]! >>> 0) * 4294967296 + (words[2 * i]! >>> 0);
    return;
  }
  if (DataType.isInt(type) || (DataType.isFloat(type) && !(data.values instanceof Uint16Array))) {
    const values = data.values as unknown as ArrayLike<number>;
    for (let i = 0; i < n; i++) out[i] = values[i]!;
    return;
  }
  throw new TypeError(`group statistics need a numeric value column, not ${String(type)}`);
}

/** Validity of each row of a chunk as bytes (1 valid, 0 null), or null when there are no nulls. */
function validBytes(data: Data): Uint8Array | null {
  const bitmap = data.nullBitmap;
  if (data.nullCount === 0 || !bitmap || bitmap.byteLength === 0) return null;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const bit = data.offset + i;
    out[i] = (bitmap[bit >> 3]! >> (bit & 7)) & 1;
  }
  return out;
}

/** Growable per-group accumulators in typed arrays. */
class Accumulators {
  keys: (string | number | null)[] = [];
  count = new Float64Array(256);
  values = new Float64Array(256);
  sum = new Float64Array(256);
  min = new Float64Array(256).fill(Infinity);
  max = new Float64Array(256).fill(-Infinity);

  add(key: string | number | null): number {
    const g = this.keys.length;
    this.keys.push(key);
    if (g === this.count.length) {
      const grow = (a: Float64Array, fill: number) => {
        const b = new Float64Array(a.length * 2).fill(fill);
        b.set(a);
        return b;
      };
      this.count = grow(this.count, 0);
      this.values = grow(this.values, 0);
      this.sum = grow(this.sum, 0);
      this.min = grow(this.min, Infinity);
      this.max = grow(this.max, -Infinity);
    }
    return g;
  }
}

/**
 * Resolves each row of a key column to a group. Strings are looked up by hash, and a row joins a
 * group only if its bytes equal the group's first key (so hash collisions cannot merge groups).
 */
class Grouper {
  private readonly byHash = new Map<number, number[]>();
  private readonly byNumber = new Map<number, number>();
  private nullGroup = -1;
  private readonly decoder = new TextDecoder();
  private readonly keyBytes: Uint8Array[] = [];

  constructor(readonly groups: Accumulators) {}

  nullKey(): number {
    if (this.nullGroup < 0) this.nullGroup = this.groups.add(null);
    return this.nullGroup;
  }

  numberKey(value: number): number {
    let g = this.byNumber.get(value);
    if (g === undefined) {
      g = this.groups.add(value);
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
    const g = this.groups.add(this.decoder.decode(copy));
    this.keyBytes[g] = copy;
    candidates.push(g);
    return g;
  }
}

/** Group ids of the rows of one key chunk. */
function groupIds(grouper: Grouper, data: Data, out: Uint32Array): void {
  const type = data.type;
  const n = data.length;
  const valid = validBytes(data);
  if (DataType.isDictionary(type)) {
    // Resolve each dictionary entry once, then map the indices.
    const dictionary = data.dictionary!;
    const entryGroups = new Uint32Array(dictionary.length);
    let base = 0;
    for (const chunk of dictionary.data) {
      groupIds(grouper, chunk, entryGroups.subarray(base, base + chunk.length));
      base += chunk.length;
    }
    const indices = data.values as unknown as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) out[i] = !valid || valid[i] ? entryGroups[Number(indices[i]!)]! : grouper.nullKey();
    return;
  }
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type) || DataType.isBinary(type) || DataType.isLargeBinary(type)) {
    const hashes = new Uint32Array(n);
    hashData(data, hashes, 0);
    const bytes = data.values as Uint8Array;
    const offsets = data.valueOffsets as unknown as Int32Array | BigInt64Array;
    const large = !(offsets instanceof Int32Array);
    const words = large ? new Int32Array(offsets.buffer, offsets.byteOffset, offsets.length * 2) : offsets;
    if (large && (words[2 * n + 1] !== 0 || words[2 * n]! < 0)) throw new RangeError('a string chunk of more than 2 GiB cannot be grouped');
    const stride = large ? 2 : 1;
    // Consecutive rows often share a key: remember the last one to skip the lookup.
    let lastHash = -1;
    let lastGroup = 0;
    let lastBegin = 0;
    let lastEnd = 0;
    for (let i = 0; i < n; i++) {
      if (valid && !valid[i]) {
        out[i] = grouper.nullKey();
        continue;
      }
      const begin = words[stride * i]!;
      const end = words[stride * (i + 1)]!;
      const h = hashes[i]!;
      if (h === lastHash && end - begin === lastEnd - lastBegin) {
        let same = true;
        for (let k = 0; k < end - begin && same; k++) same = bytes[begin + k] === bytes[lastBegin + k];
        if (same) {
          out[i] = lastGroup;
          continue;
        }
      }
      lastGroup = out[i] = grouper.stringKey(h, bytes, begin, end);
      lastHash = h;
      lastBegin = begin;
      lastEnd = end;
    }
    return;
  }
  if (DataType.isInt(type)) {
    const numbers = new Float64Array(n);
    valuesAsDoubles(data, numbers);
    for (let i = 0; i < n; i++) out[i] = !valid || valid[i] ? grouper.numberKey(numbers[i]!) : grouper.nullKey();
    return;
  }
  throw new TypeError(`group statistics group by strings, dictionaries of strings or integers, not ${String(type)}`);
}

/**
 * Per-group count, sum, min, max and mean of `value`, grouped by `by`; sorted by key. Exact as
 * long as every sum stays within 2^53 (checked).
 */
export function groupStats(table: Table | { schema: Table['schema']; batches: RecordBatch[] }, by: string, value: string): GroupStat[] {
  const byIndex = table.schema.fields.findIndex((f) => f.name === by);
  const valueIndex = table.schema.fields.findIndex((f) => f.name === value);
  if (byIndex < 0) throw new TypeError(`no column ${JSON.stringify(by)} to group by`);
  if (valueIndex < 0) throw new TypeError(`no column ${JSON.stringify(value)} to summarise`);
  const acc = new Accumulators();
  const grouper = new Grouper(acc);
  let ids = new Uint32Array(0);
  let values = new Float64Array(0);
  for (const batch of table.batches) {
    const n = batch.numRows;
    if (ids.length < n) {
      ids = new Uint32Array(n);
      values = new Float64Array(n);
    }
    groupIds(grouper, batch.data.children[byIndex]!, ids);
    const valueData = batch.data.children[valueIndex]!;
    valuesAsDoubles(valueData, values);
    const valid = validBytes(valueData);
    const { count, values: nonNull, sum, min, max } = acc;
    for (let i = 0; i < n; i++) {
      const g = ids[i]!;
      count[g]!++;
      if (valid && !valid[i]) continue;
      const v = values[i]!;
      nonNull[g]!++;
      sum[g]! += v;
      if (v < min[g]!) min[g] = v;
      if (v > max[g]!) max[g] = v;
    }
  }
  return acc.keys
    .map((key, g): GroupStat => {
      const n = acc.values[g]!;
      if (!Number.isSafeInteger(acc.sum[g]!) && Number.isInteger(acc.min[g]!)) {
        throw new RangeError(`the sum of ${value} for ${String(key)} left the range where doubles are exact (2^53)`);
      }
      return {
        key,
        count: acc.count[g]!,
        values: n,
        sum: acc.sum[g]!,
        min: n > 0 ? acc.min[g]! : null,
        max: n > 0 ? acc.max[g]! : null,
        mean: n > 0 ? acc.sum[g]! / n : null,
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
