/**
 * Arrow tables through plasmapool, in one run so that the ratios mean something:
 *   - putTable (measure, create, serialize straight into the object, seal) against the way
 *     without it, tableToIPC + a copy into the object, and against memcpy of the same bytes;
 *   - getTable (get + zero-copy tableFromIPC) against get + a copy + tableFromIPC;
 * for tables of 1 kB, 1 MB, 100 MB and 1 GB (float64, int64 and int32 columns, one record
 * batch), against a `plasmapool store` process. Prints a table and the targets (PASS/FAIL),
 * writes bench/results/arrow.json and bench/results/arrow.svg.
 *
 * Run: npx tsx bench/arrow.ts [--sizes 1kB,1MB,100MB,1GB] [--memory 4GiB]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { makeVector, RecordBatchStreamWriter, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
// The client and Arrow modules directly: the package entry also loads the store (for startStore).
import { connect, type PlasmaClient } from '../src/client/plasma-client.js';
import { ARROW_STREAM_METADATA, getTable, ipcStreamSize, putTable } from '../src/arrow/table-objects.js';
import { ObjectId } from '../src/protocol/object-id.js';
import { TargetSink } from '../src/arrow/ipc-sinks.js';
import { plasmaDigest } from '../src/protocol/digest.js';
import { parseSize } from '../src/util/size.js';
import { cleanupAll, installCleanupHandlers } from './lib/cleanup.js';
import { machineInfo } from './lib/machine.js';
import { startPlasmapoolStore, tempDir } from './lib/processes.js';
import { chart, formatBytes } from './lib/svg-chart.js';

const here = path.dirname(fileURLToPath(import.meta.url));
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

interface Options {
  sizes: number[];
  memory: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sizes: [1e3, 1e6, 1e8, 1e9], memory: parseSize('4GiB') };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === '--sizes' && value) options.sizes = value.split(',').map((s) => parseSize(s.trim()));
    else if (argv[i] === '--memory' && value) options.memory = parseSize(value);
    else if (argv[i] === '--help') {
      console.log('npx tsx bench/arrow.ts [--sizes 1kB,1MB,100MB,1GB] [--memory 4GiB]');
      process.exit(0);
    } else continue;
    i++;
  }
  return options;
}

const log = (message: string) => process.stderr.write(`[bench/arrow] ${message}\n`);

// ---------------------------------------------------------------- tables and timing

/** float64 + int64 + int32 columns in one record batch, about `bytes` bytes of values. */
function tableOf(bytes: number): Table {
  const rows = Math.max(1, Math.ceil(bytes / 20));
  const f64 = new Float64Array(rows);
  const i64 = new BigInt64Array(rows);
  const i32 = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    f64[i] = i * 0.37 - 1e5;
    i64[i] = BigInt(i) * 48271n;
    i32[i] = (i * 2654435761) | 0;
  }
  return new Table({ f64: makeVector(f64), i64: makeVector(i64), i32: makeVector(i32) });
}

function repeatsFor(bytes: number): number {
  if (bytes <= 1e4) return 300;
  if (bytes <= 1e7) return 40;
  if (bytes <= 2e8) return 9;
  return 3;
}

interface Stats {
  n: number;
  medianUs: number;
  p99Us: number;
  minUs: number;
}

function stats(samplesUs: number[]): Stats {
  const sorted = [...samplesUs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!;
  return { n: sorted.length, medianUs: at(0.5), p99Us: at(0.99), minUs: sorted[0]! };
}

/** Run `body` `repeats` times after `warmup` untimed runs; `body` returns its own timed µs. */
async function measure(repeats: number, warmup: number, body: () => Promise<number> | number): Promise<Stats> {
  const samples: number[] = [];
  for (let r = 0; r < warmup + repeats; r++) {
    const us = await body();
    if (r >= warmup) samples.push(us);
  }
  return stats(samples);
}

const now = () => performance.now() * 1000;
const gbps = (bytes: number, us: number) => bytes / us / 1e3;

// ---------------------------------------------------------------- one size

interface Row {
  size: number;
  rows: number;
  ipcBytes: number;
  memcpy: Stats;
  memcpyIntoObject: Stats;
  putTable: Stats;
  /** putTable's parts: create + serialize into the object (no seal), and the digest seal computes. */
  serializeIntoObject: Stats;
  digest: Stats;
  tableToIpcCopy: Stats;
  getTable: Stats;
  getCopyFromIpc: Stats;
}

async function freshReader(socketPath: string, warm: ObjectId): Promise<PlasmaClient> {
  const client = await connect(socketPath);
  // Map the region before timing: the first get on a connection also receives and maps it.
  (await client.getOne(warm))!.release();
  return client;
}

async function benchSize(producer: PlasmaClient, socketPath: string, warm: ObjectId, size: number): Promise<Row> {
  const repeats = repeatsFor(size);
  const warmup = size <= 1e7 ? 5 : 1;
  let table: Table | null = tableOf(size);
  const ipcBytes = ipcStreamSize(table.schema, table.batches);
  log(`${formatBytes(size)}: ${table.numRows} rows, ${formatBytes(ipcBytes)} of IPC, ${repeats} repeats`);

  // memcpy of the same number of bytes, warm pages, heap to heap.
  let source: Uint8Array | null = new Uint8Array(ipcBytes).fill(1);
  let target: Uint8Array | null = new Uint8Array(ipcBytes).fill(2);
  const memcpy = await measure(repeats, warmup, () => {
    const t0 = now();
    target!.set(source!);
    return now() - t0;
  });
  target = null;

  // memcpy into an object of the store (the destination putTable writes to).
  const scratchId = ObjectId.random();
  const scratch = await producer.create(scratchId, ipcBytes);
  scratch.data.fill(3);
  const memcpyIntoObject = await measure(repeats, warmup, () => {
    const t0 = now();
    scratch.data.set(source!);
    return now() - t0;
  });
  scratch.release();
  await producer.abort(scratchId);
  source = null;
  gc();
  log(`  memcpy ${gbps(ipcBytes, memcpy.medianUs).toFixed(2)} GB/s, into an object ${gbps(ipcBytes, memcpyIntoObject.medianUs).toFixed(2)} GB/s`);

  const putTableStats = await measure(repeats, warmup, async () => {
    const id = ObjectId.random();
    const t0 = now();
    await putTable(producer, id, table!);
    const us = now() - t0;
    await producer.delete([id]);
    return us;
  });
  log(`  putTable median ${(putTableStats.medianUs / 1000).toFixed(3)} ms`);

  // Where putTable's time goes: create + serialize straight into the object, and the digest.
  const digestSamples: number[] = [];
  const serializeIntoObject = await measure(repeats, warmup, async () => {
    const id = ObjectId.random();
    const t0 = now();
    const object = await producer.create(id, ipcBytes, { metadata: ARROW_STREAM_METADATA });
    const writer = new RecordBatchStreamWriter({ autoDestroy: false });
    writer.reset(new TargetSink(object.data) as never, table!.schema);
    for (const batch of table!.batches) writer.write(batch);
    writer.finish();
    const us = now() - t0;
    const t1 = now();
    plasmaDigest(object.data, object.metadata);
    digestSamples.push(now() - t1);
    object.release();
    await producer.abort(id);
    return us;
  });
  const digest = stats(digestSamples.slice(warmup));
  log(`  of which create + serialize ${(serializeIntoObject.medianUs / 1000).toFixed(3)} ms, digest ${(digest.medianUs / 1000).toFixed(3)} ms`);

  // Without the direct path: serialize to a heap buffer, then copy it into the object.
  const baselineRepeats = size >= 1e9 ? 2 : repeats;
  const tableToIpcCopy = await measure(baselineRepeats, size >= 1e9 ? 0 : warmup, async () => {
    const id = ObjectId.random();
    const t0 = now();
    const bytes = tableToIPC(table!, 'stream');
    const object = await producer.create(id, bytes.byteLength, { metadata: ARROW_STREAM_METADATA });
    object.data.set(bytes);
    await producer.seal(id);
    const us = now() - t0;
    object.release();
    await producer.delete([id]);
    return us;
  });
  gc();
  log(`  tableToIPC + copy median ${(tableToIpcCopy.medianUs / 1000).toFixed(3)} ms`);

  const id = ObjectId.random();
  await putTable(producer, id, table);
  const rows = table.numRows;
  table = null;
  gc();

  const getTableStats = await measure(repeats, warmup, async () => {
    const reader = await freshReader(socketPath, warm);
    const t0 = now();
    const got = await getTable(reader, id);
    const us = now() - t0;
    if (got.numRows !== rows) throw new Error(`getTable returned ${got.numRows} rows, ${rows} were put`);
    reader.close();
    return us;
  });
  log(`  getTable median ${(getTableStats.medianUs / 1000).toFixed(3)} ms`);

  const getCopyFromIpc = await measure(baselineRepeats, size >= 1e9 ? 0 : warmup, async () => {
    const reader = await freshReader(socketPath, warm);
    const t0 = now();
    const object = (await reader.getOne(id))!;
    const got = tableFromIPC(object.data.slice());
    const us = now() - t0;
    if (got.numRows !== rows) throw new Error(`copy + tableFromIPC returned ${got.numRows} rows`);
    reader.close();
    return us;
  });
  gc();
  log(`  get + copy + tableFromIPC median ${(getCopyFromIpc.medianUs / 1000).toFixed(3)} ms`);
  await producer.delete([id]);

  return { size, rows, ipcBytes, memcpy, memcpyIntoObject, putTable: putTableStats, serializeIntoObject, digest, tableToIpcCopy, getTable: getTableStats, getCopyFromIpc };
}

// ---------------------------------------------------------------- report

interface Target {
  name: string;
  goal: string;
  measured: string;
  pass: boolean | null;
}

function targetsOf(rows: Row[]): Target[] {
  const bySize = (size: number) => rows.find((r) => r.size === size);
  const oneMB = bySize(1e6);
  const hundredMB = bySize(1e8);
  const targets: Target[] = [];
  if (oneMB && hundredMB) {
    const ratio = hundredMB.getTable.medianUs / oneMB.getTable.medianUs;
    targets.push({
      name: 'getTable time independent of size',
      goal: 'getTable(100 MB) ≤ 2 × getTable(1 MB)',
      measured: `${(hundredMB.getTable.medianUs / 1000).toFixed(3)} ms vs ${(oneMB.getTable.medianUs / 1000).toFixed(3)} ms: ${ratio.toFixed(2)}×`,
      pass: ratio <= 2,
    });
  }
  if (hundredMB) {
    const put = gbps(hundredMB.ipcBytes, hundredMB.putTable.medianUs);
    const copy = gbps(hundredMB.ipcBytes, hundredMB.memcpy.medianUs);
    targets.push({
      name: 'putTable at memcpy speed',
      goal: 'putTable(100 MB) ≥ 70 % of memcpy bandwidth',
      measured: `${put.toFixed(2)} GB/s vs memcpy ${copy.toFixed(2)} GB/s: ${((100 * put) / copy).toFixed(0)} %`,
      pass: put >= 0.7 * copy,
    });
  }
  return targets;
}

const ms = (us: number) => (us >= 100_000 ? (us / 1000).toFixed(0) : us >= 1000 ? (us / 1000).toFixed(2) : (us / 1000).toFixed(3));

function printTable(rows: Row[]): string {
  const header = ['size', 'IPC bytes', 'memcpy GB/s', '→object GB/s', 'putTable ms', 'GB/s', '(serialize ms', 'GB/s', 'digest ms)', 'toIPC+copy ms', 'GB/s', 'getTable ms (p99)', 'get+copy ms'];
  const lines = rows.map((r) => [
    formatBytes(r.size),
    String(r.ipcBytes),
    gbps(r.ipcBytes, r.memcpy.medianUs).toFixed(2),
    gbps(r.ipcBytes, r.memcpyIntoObject.medianUs).toFixed(2),
    ms(r.putTable.medianUs),
    gbps(r.ipcBytes, r.putTable.medianUs).toFixed(2),
    ms(r.serializeIntoObject.medianUs),
    gbps(r.ipcBytes, r.serializeIntoObject.medianUs).toFixed(2),
    ms(r.digest.medianUs),
    ms(r.tableToIpcCopy.medianUs),
    gbps(r.ipcBytes, r.tableToIpcCopy.medianUs).toFixed(2),
    `${ms(r.getTable.medianUs)} (${ms(r.getTable.p99Us)})`,
    ms(r.getCopyFromIpc.medianUs),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  return [row(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(row)].join('\n');
}

function svgOf(rows: Row[]): string {
  const series = (name: string, pick: (r: Row) => number, dashed = false) => ({ name, points: rows.map((r) => [r.ipcBytes, pick(r)] as [number, number]), dashed });
  return chart(
    'plasmapool: Arrow tables',
    [
      {
        title: 'latency (median)',
        yLabel: 'µs',
        logY: true,
        series: [
          series('putTable', (r) => r.putTable.medianUs),
          series('tableToIPC + copy into object', (r) => r.tableToIpcCopy.medianUs, true),
          series('getTable (zero-copy)', (r) => r.getTable.medianUs),
          series('get + copy + tableFromIPC', (r) => r.getCopyFromIpc.medianUs, true),
        ],
      },
      {
        title: 'write bandwidth',
        yLabel: 'GB/s',
        logY: false,
        series: [
          series('putTable', (r) => gbps(r.ipcBytes, r.putTable.medianUs)),
          series('putTable without seal', (r) => gbps(r.ipcBytes, r.serializeIntoObject.medianUs)),
          series('tableToIPC + copy into object', (r) => gbps(r.ipcBytes, r.tableToIpcCopy.medianUs), true),
          series('memcpy (heap → heap)', (r) => gbps(r.ipcBytes, r.memcpy.medianUs), true),
          series('memcpy (heap → object)', (r) => gbps(r.ipcBytes, r.memcpyIntoObject.medianUs), true),
        ],
      },
    ],
    'float64 + int64 + int32 columns, one record batch; one plasmapool store process',
  );
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installCleanupHandlers(() => {});
  const started = new Date();
  const { dir } = tempDir('ppbench-arrow-');
  const socketPath = path.join(dir, 'plasma.sock');
  log(`starting plasmapool store -m ${formatBytes(options.memory)}`);
  const store = await startPlasmapoolStore(socketPath, options.memory);
  const rows: Row[] = [];
  try {
    const producer = await connect(socketPath);
    const warm = ObjectId.random();
    await producer.createAndSeal(warm, new Uint8Array(8));
    for (const size of options.sizes) rows.push(await benchSize(producer, socketPath, warm, size));
    producer.close();
  } finally {
    await store.stop();
    await cleanupAll();
  }

  const targets = targetsOf(rows);
  const table = printTable(rows);
  console.log(`\nArrow tables, ${started.toISOString()} (medians; GB/s = IPC bytes / median time)\n`);
  console.log(table);
  console.log('\nTargets:');
  for (const t of targets) console.log(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.goal}: ${t.measured}`);

  const resultsDir = path.join(here, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const result = {
    benchmark: 'arrow',
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    machine: machineInfo(),
    storeMemory: options.memory,
    table: 'float64 + int64 + int32 columns, one record batch, rows = size / 20',
    notes: [
      'putTable: measure, create, serialize straight into the object, seal (the seal computes the Plasma digest over the object).',
      'serializeIntoObject / digest: the two parts of putTable timed alone (create + serialize without the seal; plasmaDigest over the object).',
      'tableToIPC + copy: serialize into a heap buffer, create, copy, seal: the put without the direct path.',
      'getTable: a fresh connection per repeat with the region already mapped; get round trip + zero-copy tableFromIPC.',
      'get + copy: the same get, then a heap copy of the object and tableFromIPC over it.',
      'memcpy: Uint8Array.set of the IPC byte count, warm pages; "into object" targets a created object in the store region.',
    ],
    rows,
    targets,
  };
  fs.writeFileSync(path.join(resultsDir, 'arrow.json'), JSON.stringify(result, null, 2) + '\n');
  fs.writeFileSync(path.join(resultsDir, 'arrow.svg'), svgOf(rows));
  log(`wrote ${path.relative(process.cwd(), path.join(resultsDir, 'arrow.json'))} and arrow.svg`);
}

main().catch(async (error) => {
  process.stderr.write(`bench/arrow: ${(error as Error).stack ?? error}\n`);
  await cleanupAll();
  process.exit(1);
});
