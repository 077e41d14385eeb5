/**
 * Hash partitioning (no store needed): every row lands in exactly one partition, equal keys land
 * together whatever the chunking or string encoding, all column types survive the gather.
 */
import { describe, expect, it } from 'vitest';
import {
  Bool,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  LargeUtf8,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Utf8,
  makeData,
  makeVector,
  tableFromArrays,
  vectorFromArray,
} from 'apache-arrow';
import { hashRows, partitionTable } from '../../src/arrow/partition.js';
import { replicateTable, splitTable } from '../../src/arrow/dataset.js';

const airports = ['ATL', 'ORD', 'DFW', 'LAX', 'SFO', 'JFK', 'SEA', 'BOS', 'DEN', 'PHX'];

function sampleTable(rows: number, batchRows = 1000): Table {
  const origin: (string | null)[] = [];
  const delay = new Float64Array(rows);
  const id = new Int32Array(rows);
  const big: bigint[] = [];
  const flag: (boolean | null)[] = [];
  for (let i = 0; i < rows; i++) {
    origin.push(i % 97 === 0 ? null : airports[(i * 7 + (i >> 3)) % airports.length]!);
    delay[i] = ((i * 37) % 200) - 50 + 0.25;
    id[i] = i;
    big.push(BigInt(i) * 1_000_000_007n - 5n);
    flag.push(i % 11 === 0 ? null : i % 3 === 0);
  }
  const whole = new Table({
    id: makeVector(id),
    origin: vectorFromArray(origin, new Utf8()),
    delay: makeVector(delay),
    big: vectorFromArray(big, new Int64()),
    flag: vectorFromArray(flag, new Bool()),
  });
  // Re-chunk: many small batches, as Parquet readers produce.
  const batches: RecordBatch[] = [];
  for (let start = 0; start < rows; start += batchRows) batches.push(...whole.slice(start, Math.min(rows, start + batchRows)).batches);
  return new Table(whole.schema, batches);
}

function rowsOf(table: Table): string[] {
  return table.toArray().map((row) => JSON.stringify(row.toJSON(), (_, v) => (typeof v === 'bigint' ? `${v}n` : v)));
}

describe('partitionTable', () => {
  it('puts every row in exactly one partition and keeps all values', () => {
    const table = sampleTable(10_000, 777);
    const parts = partitionTable(table, ['origin'], 4, { sliceRows: 3000 });
    expect(parts.rows.reduce((a, b) => a + b, 0)).toBe(table.numRows);
    const gathered = parts.batches.flatMap((batches) => rowsOf(new Table(parts.schema, batches)));
    expect(gathered.sort()).toEqual(rowsOf(table).sort());
    parts.batches.forEach((batches, p) => expect(new Table(parts.schema, batches).numRows).toBe(parts.rows[p]));
  });

  it('sends equal keys to the same partition, and each key to one partition only', () => {
    const table = sampleTable(5_000);
    const parts = partitionTable(table, ['origin'], 3);
    const owner = new Map<string | null, number>();
    parts.batches.forEach((batches, p) => {
      for (const value of new Table(parts.schema, batches).getChild('origin')!) {
        const seen = owner.get(value);
        if (seen !== undefined) expect(seen).toBe(p);
        owner.set(value, p);
      }
    });
    expect(owner.size).toBe(airports.length + 1); // ten airports and null
  });

  it('keeps input order within a partition', () => {
    const table = sampleTable(4_000, 333);
    const parts = partitionTable(table, ['origin'], 5, { sliceRows: 1000 });
    for (const batches of parts.batches) {
      const ids = [...new Table(parts.schema, batches).getChild('id')!] as number[];
      for (let i = 1; i < ids.length; i++) expect(ids[i]!).toBeGreaterThan(ids[i - 1]!);
    }
  });

  it('partitions by several keys (the composite key decides)', () => {
    const table = sampleTable(6_000);
    const parts = partitionTable(table, ['origin', 'flag'], 7);
    const owner = new Map<string, number>();
    parts.batches.forEach((batches, p) => {
      const t = new Table(parts.schema, batches);
      const origin = t.getChild('origin')!;
      const flag = t.getChild('flag')!;
      for (let i = 0; i < t.numRows; i++) {
        const key = `${origin.get(i)}|${flag.get(i)}`;
        expect(owner.get(key) ?? p).toBe(p);
        owner.set(key, p);
      }
    });
    // Only one column's value does not decide: some airport appears in two partitions.
    const byOrigin = new Map<string, Set<number>>();
    for (const [key, p] of owner) {
      const origin = key.split('|')[0]!;
      byOrigin.set(origin, (byOrigin.get(origin) ?? new Set()).add(p));
    }
    expect([...byOrigin.values()].some((s) => s.size > 1)).toBe(true);
    expect(parts.rows.reduce((a, b) => a + b, 0)).toBe(table.numRows);
  });

  it('hashes a string the same in utf8, large_utf8 and dictionary columns', () => {
    const values = ['ATL', 'ORD', null, 'ATL', 'SFO', 'ORD'];
    const utf8 = new Table({ k: vectorFromArray(values, new Utf8()) });
    const large = new Table({ k: vectorFromArray(values, new LargeUtf8()) });
    const dict = new Table({ k: vectorFromArray(values, new Dictionary(new Utf8(), new Int32())) });
    const h = hashRows(utf8.batches, [0]);
    expect([...hashRows(large.batches, [0])]).toEqual([...h]);
    expect([...hashRows(dict.batches, [0])]).toEqual([...h]);
    expect(h[0]).toBe(h[3]);
    expect(h[0]).not.toBe(h[1]);
  });

  it('hashes numbers by value: -0 is 0, int64 beyond 2^32 differ', () => {
    const f = new Table({ k: makeVector(new Float64Array([0, -0, 1.5, Number.NaN, Number.NaN])) });
    const hf = hashRows(f.batches, [0]);
    expect(hf[0]).toBe(hf[1]);
    expect(hf[3]).toBe(hf[4]);
    const i = new Table({ k: vectorFromArray([1n, 1n + (1n << 32n), 1n], new Int64()) });
    const hi = hashRows(i.batches, [0]);
    expect(hi[0]).not.toBe(hi[1]);
    expect(hi[0]).toBe(hi[2]);
  });

  it('gathers dictionary, large_utf8, timestamp and struct columns', () => {
    const n = 3000;
    const dict = vectorFromArray(
      Array.from({ length: n }, (_, i) => (i % 13 === 0 ? null : airports[i % airports.length]!)),
      new Dictionary(new Utf8(), new Int32()),
    );
    const large = vectorFromArray(
      Array.from({ length: n }, (_, i) => `destination-${i % 17}-${'x'.repeat(i % 40)}`),
      new LargeUtf8(),
    );
    const ts = vectorFromArray(
      Array.from({ length: n }, (_, i) => 978307260000 + i * 1000),
      new TimestampMicrosecond(),
    );
    const inner = tableFromArrays({ a: new Int32Array(n).map((_, i) => i * 2), b: new Float64Array(n).map((_, i) => i / 4) });
    const structType = new Struct([new Field('a', new Int32()), new Field('b', new Float64())]);
    const structData = makeData({
      type: structType,
      length: n,
      nullCount: 0,
      children: [inner.getChild('a')!.data[0]!, inner.getChild('b')!.data[0]!],
    });
    const schema = new Schema([
      new Field('dict', dict.type, true),
      new Field('large', large.type),
      new Field('ts', ts.type),
      new Field('s', structType),
    ]);
    const whole = new Table(schema, [
      new RecordBatch(
        schema,
        makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: [dict.data[0]!, large.data[0]!, ts.data[0]!, structData] }),
      ),
    ]);
    const chunked = new Table(schema, [...whole.slice(0, 1234).batches, ...whole.slice(1234, 2000).batches, ...whole.slice(2000).batches]);
    const parts = partitionTable(chunked, ['dict', 'large'], 5);
    const gathered = parts.batches.flatMap((batches) => rowsOf(new Table(schema, batches)));
    expect(gathered.sort()).toEqual(rowsOf(chunked).sort());
  });

  it('rejects unknown key columns and bad partition counts with a clear message', () => {
    const table = sampleTable(10);
    expect(() => partitionTable(table, ['nope'], 2)).toThrow(/no column "nope" to partition by: the columns are id, origin/);
    expect(() => partitionTable(table, ['origin'], 0)).toThrow(/partitions must be/);
  });
});

describe('dataset helpers', () => {
  it('splits and replicates without copying', () => {
    const table = sampleTable(1000, 100);
    const thirds = splitTable(table, 3);
    expect(thirds.map((t) => t.numRows)).toEqual([333, 333, 334]);
    const big = replicateTable(table, 2500);
    expect(big.numRows).toBe(2500);
    expect(big.getChild('id')!.data[0]!.values.buffer).toBe(table.getChild('id')!.data[0]!.values.buffer);
  });
});
