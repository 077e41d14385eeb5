/**
 * Arrow tables for the table and interop suites, and exact, language-neutral descriptions of
 * their content: a canonical JSON form (test/interop/plasma_tables.py computes the same one from
 * pyarrow) and per-column SHA-256 digests for tables too large for JSON.
 */
import { createHash } from 'node:crypto';
import {
  Bool,
  Data,
  DataType,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  Schema,
  Struct,
  Table,
  TimestampMicrosecond,
  Type,
  Utf8,
  makeData,
  makeVector,
  vectorFromArray,
  type Vector,
} from 'apache-arrow';

const words = ['alpha', 'beta', 'γάμμα', '日本', '', 'delta-with-a-longer-value'];

/** One batch of every column kind the interop promise covers, with nulls in each. */
function mixedBatchTable(rows: number, start: number): Table {
  const at = (i: number) => start + i;
  const nth = (k: number) => (i: number) => at(i) % k === 0;
  const range = <T>(f: (i: number) => T) => Array.from({ length: rows }, (_, i) => f(i));
  return new Table({
    i32: vectorFromArray(range((i) => (nth(7)(i) ? null : at(i) - 500)), new Int32()),
    i64: vectorFromArray(range((i) => (nth(11)(i) ? null : BigInt(at(i)) * 1_000_000_007n - 3n)), new Int64()),
    f64: vectorFromArray(range((i) => (nth(13)(i) ? null : at(i) * 0.25 - 100)), new Float64()),
    flag: vectorFromArray(range((i) => (nth(5)(i) ? null : at(i) % 3 === 0)), new Bool()),
    text: vectorFromArray(range((i) => (nth(4)(i) ? null : `${words[at(i) % words.length]}-${at(i)}`)), new Utf8()),
    category: vectorFromArray(range((i) => (nth(9)(i) ? null : words[at(i) % 4]!)), new Dictionary(new Utf8(), new Int32())),
    items: vectorFromArray(
      range((i) => (nth(6)(i) ? null : Array.from({ length: at(i) % 4 }, (_, k) => (k === 1 && at(i) % 8 === 3 ? null : at(i) * 10 + k)))),
      new List(new Field('item', new Int32(), true)),
    ),
    point: vectorFromArray(
      range((i) => (nth(10)(i) ? null : { x: nth(3)(i) ? null : at(i), label: words[at(i) % words.length]! })),
      new Struct([new Field('x', new Int32(), true), new Field('label', new Utf8(), true)]),
    ),
    // Milliseconds in, microseconds stored: 2023-11-14 plus a second per row.
    when: vectorFromArray(range((i) => (nth(8)(i) ? null : 1_700_000_000_000 + at(i) * 1000)), new TimestampMicrosecond()),
  });
}

/** A table of every column kind with nulls, in `batches` record batches of `rows` rows. */
export function mixedTable(rows = 500, batches = 2): Table {
  let table = mixedBatchTable(rows, 0);
  for (let b = 1; b < batches; b++) table = table.concat(mixedBatchTable(rows, b * rows));
  return table;
}

/** No rows, same schema. */
export function emptyTable(schema: Schema = mixedTable(1, 1).schema): Table {
  return new Table(schema);
}

/**
 * A table of about `bytes` bytes, built fast (no builders): float64 and int64 columns, an int32
 * column and a dictionary-encoded utf8 column, in batches of at most 1M rows.
 */
export function bigTable(bytes: number): Table {
  const rowBytes = 8 + 8 + 4 + 4;
  const rows = Math.ceil(bytes / rowBytes);
  const dictionary = vectorFromArray(['ATL', 'ORD', 'DFW', 'LAX', 'SFO', 'JFK', 'SEA', 'BOS'], new Utf8());
  const dictType = new Dictionary(new Utf8(), new Int32());
  const batches: Table[] = [];
  for (let start = 0; start < rows; start += 1 << 20) {
    const n = Math.min(1 << 20, rows - start);
    const f64 = new Float64Array(n);
    const i64 = new BigInt64Array(n);
    const i32 = new Int32Array(n);
    const codes = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const r = start + i;
      f64[i] = r * 0.5 - 1e6;
      i64[i] = BigInt(r) * 3n - 7n;
      i32[i] = (r * 2654435761) | 0;
      codes[i] = (r * 7 + (r >> 5)) & 7;
    }
    batches.push(
      new Table({
        f64: makeVector(f64),
        i64: makeVector(i64),
        i32: makeVector(i32),
        airport: makeVector(makeData({ type: dictType, length: n, data: codes, dictionary })),
      }),
    );
  }
  return batches.reduce((a, b) => a.concat(b));
}

// ------------------------------------------------------------------ canonical descriptions

const timeUnits = ['s', 'ms', 'us', 'ns'];

/** The type as plasma_tables.py spells it from pyarrow. */
export function typeString(type: DataType): string {
  if (DataType.isDictionary(type)) return `dictionary<${typeString(type.indices)},${typeString(type.dictionary)}>`;
  if (DataType.isInt(type)) return `${type.isSigned ? 'int' : 'uint'}${type.bitWidth}`;
  if (DataType.isFloat(type)) return `float${[16, 32, 64][type.precision]}`;
  if (DataType.isBool(type)) return 'bool';
  if (type.typeId === Type.Utf8) return 'utf8';
  if (type.typeId === Type.LargeUtf8) return 'large_utf8';
  if (DataType.isTimestamp(type)) return `timestamp[${timeUnits[type.unit]}${type.timezone ? `,tz=${type.timezone}` : ''}]`;
  if (DataType.isList(type)) return `list<${typeString(type.children[0]!.type)}>`;
  if (DataType.isStruct(type)) return `struct<${type.children.map((f: Field) => `${f.name}:${typeString(f.type)}`).join(',')}>`;
  if (DataType.isNull(type)) return 'null';
  throw new Error(`typeString: no canonical name for ${type}`);
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function canonicalValue(value: unknown, type: DataType): Json {
  if (value === null || value === undefined) return null;
  if (DataType.isDictionary(type)) return canonicalValue(value, type.dictionary);
  if (DataType.isInt(type)) return String(value);
  if (DataType.isFloat(type)) return value as number;
  if (DataType.isBool(type) || DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return value as boolean | string;
  if (DataType.isList(type)) return [...(value as Vector)].map((item) => canonicalValue(item, type.children[0]!.type));
  if (DataType.isStruct(type)) {
    const row = value as Record<string, unknown>;
    return Object.fromEntries(type.children.map((f: Field) => [f.name, canonicalValue(row[f.name], f.type)]));
  }
  throw new Error(`canonicalValue: unsupported type ${type}`);
}

/** Timestamps exactly, from the stored integers (Arrow JS `get` rounds them to milliseconds). */
function canonicalTimestamps(column: Vector): Json[] {
  const out: Json[] = [];
  for (const data of column.data as Data[]) {
    for (let i = 0; i < data.length; i++) out.push(data.getValid(i) ? String((data.values as BigInt64Array)[i]) : null);
  }
  return out;
}

/** Schema and every value, in a form both languages produce identically. */
export function canonicalTable(table: Table): { schema: [string, string, boolean][]; rows: number; columns: Record<string, Json[]> } {
  const columns: Record<string, Json[]> = {};
  for (const field of table.schema.fields) {
    const column = table.getChild(field.name)!;
    columns[field.name] = DataType.isTimestamp(field.type)
      ? canonicalTimestamps(column)
      : Array.from({ length: column.length }, (_, i) => canonicalValue(column.get(i), field.type));
  }
  return {
    schema: table.schema.fields.map((f) => [f.name, typeString(f.type), f.nullable]),
    rows: table.numRows,
    columns,
  };
}

/**
 * SHA-256 of each column of a table without nulls: the concatenated values of fixed-width
 * columns, or of a dictionary column's indices followed by its dictionary's utf8 bytes.
 */
export function columnDigests(table: Table): Record<string, string> {
  const out: Record<string, string> = {};
  for (const field of table.schema.fields) {
    const hash = createHash('sha256');
    const column = table.getChild(field.name)!;
    for (const data of column.data as Data[]) {
      if (data.nullCount > 0) throw new Error(`columnDigests: ${field.name} has nulls`);
      const values = data.values as ArrayBufferView & { BYTES_PER_ELEMENT: number };
      const width = values.BYTES_PER_ELEMENT;
      hash.update(new Uint8Array(values.buffer, values.byteOffset + data.offset * width, data.length * width));
    }
    if (DataType.isDictionary(field.type)) {
      const dictionary = (column.data[0] as Data).dictionary!;
      hash.update(JSON.stringify([...dictionary]));
    }
    out[field.name] = hash.digest('hex');
  }
  return out;
}

/** Every buffer of every column of a table (values, offsets, validity; children; dictionaries). */
export function allBuffers(table: Table): ArrayBufferView[] {
  const out: ArrayBufferView[] = [];
  const visit = (data: Data) => {
    for (const buffer of [data.values, data.valueOffsets, data.nullBitmap, data.typeIds] as (ArrayBufferView | undefined)[]) {
      if (buffer && buffer.byteLength > 0) out.push(buffer);
    }
    for (const child of data.children) visit(child);
    if (data.dictionary) for (const chunk of data.dictionary.data) visit(chunk);
  };
  for (const batch of table.batches) for (const child of batch.data.children) visit(child);
  return out;
}
