/**
 * Datasets for the shuffle: read Arrow IPC or Parquet files into Arrow tables, find the flights
 * data that the vega-datasets package ships, and split or replicate tables without copying.
 */
import { DatasetError } from '../errors.js';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { Table, tableFromIPC } from 'apache-arrow';

/** Rows per record batch when reading Parquet (the Parquet reader's own default is 1024). */
const PARQUET_BATCH_ROWS = 65_536;

/**
 * Path of `flights-3m.parquet` (3 million US flights of 2001: date, delay, distance, origin,
 * destination) inside the installed vega-datasets package. The data never enters this repository.
 */
export function flightsParquetPath(): string {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve('vega-datasets');
  } catch {
    throw new DatasetError('the flights data comes from the optional package vega-datasets, which is not installed: `npm install vega-datasets parquet-wasm`');
  }
  // The package's entry is build/index.js; the data folder sits next to build/.
  let dir = path.dirname(entry);
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  const file = path.join(dir, 'data', 'flights-3m.parquet');
  if (!fs.existsSync(file)) throw new DatasetError(`vega-datasets is installed at ${dir} but has no data/flights-3m.parquet`);
  return file;
}

export interface LoadOptions {
  /** Parquet only: read just these columns. */
  columns?: string[];
  /** Parquet only: rows per record batch (default 65,536). */
  batchRows?: number;
}

/** True if the file starts with Parquet's magic bytes. */
function isParquet(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 4 && bytes[0] === 0x50 && bytes[1] === 0x41 && bytes[2] === 0x52 && bytes[3] === 0x31;
}

/**
 * Read a table from a Parquet file (through parquet-wasm, which yields an Arrow IPC stream) or an
 * Arrow IPC file or stream. The format is recognised from the content, not the name.
 */
export async function loadTable(file: string, options: LoadOptions = {}): Promise<Table> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new DatasetError(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (isParquet(bytes)) {
    const { readParquet } = await import('parquet-wasm').catch(() => {
      throw new DatasetError(`${file} is Parquet, which needs the optional package parquet-wasm: \`npm install parquet-wasm\``);
    });
    const wasmTable = readParquet(bytes, { batchSize: options.batchRows ?? PARQUET_BATCH_ROWS, columns: options.columns });
    return tableFromIPC(wasmTable.intoIPCStream());
  }
  try {
    return tableFromIPC(bytes);
  } catch (error) {
    throw new DatasetError(`${file} is neither Parquet nor Arrow IPC (${(error as Error).message})`);
  }
}

/** The flights data as an Arrow table (about 3 s: Parquet decoding in WebAssembly). */
export async function loadFlights(options: LoadOptions = {}): Promise<Table> {
  return loadTable(flightsParquetPath(), options);
}

/** Split a table into `parts` contiguous slices of nearly equal size (zero-copy). */
export function splitTable(table: Table, parts: number): Table[] {
  if (!Number.isInteger(parts) || parts < 1) throw new RangeError(`parts must be a whole number >= 1, got ${parts}`);
  const out: Table[] = [];
  for (let i = 0; i < parts; i++) {
    const begin = Math.floor((table.numRows * i) / parts);
    const end = Math.floor((table.numRows * (i + 1)) / parts);
    out.push(table.slice(begin, end));
  }
  return out;
}

/**
 * A table of exactly `rows` rows made by repeating `table`'s batches (zero-copy: the batches are
 * shared, so 30 million rows of replicated flights cost no more memory than 3 million).
 */
export function replicateTable(table: Table, rows: number): Table {
  if (table.numRows === 0) throw new RangeError('cannot replicate an empty table');
  const copies = Math.ceil(rows / table.numRows);
  const batches = Array.from({ length: copies }, () => table.batches).flat();
  return new Table(table.schema, batches).slice(0, rows);
}
