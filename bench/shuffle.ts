/**
 * Shuffle benchmark: the flights data replicated to 1, 10 and 30 million rows, shuffled by origin
 * airport over local clusters of 2 and 3 nodes, through shared memory (zero-copy) and through
 * Unix sockets (copy), with one mapper and one reducer process per node. Each reducer computes
 * per-airport delay statistics, so both exchanges read every byte they receive.
 *
 *   npx tsx bench/shuffle.ts            full run (1M, 10M, 30M rows; several minutes)
 *   npx tsx bench/shuffle.ts --quick    1M rows only (CI smoke run)
 *   options: --rows 1e6,1e7  --nodes 2,3  --reps N  --verify  --out DIR
 *
 * Prints a table and writes bench/results/shuffle.json, shuffle.md and shuffle.svg.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadFlights, replicateTable, splitTable } from '../src/arrow/dataset.js';
import { runShuffle, shuffleVerified, type Exchange, type ShuffleRunResult } from '../src/arrow/shuffle-runner.js';
import { barChartSvg, exchangeMs, formatMs, shuffleMs, workerBreakdown } from '../src/arrow/shuffle-report.js';
import { ipcStreamSize } from '../src/arrow/table-objects.js';
import { cleanupAll, installCleanupHandlers } from './lib/cleanup.js';
import { startCluster } from './lib/processes.js';
import { machineInfo } from './lib/machine.js';

interface Options {
  rows: number[];
  nodes: number[];
  reps: number;
  verify: boolean;
  out: string;
  quick: boolean;
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv: string[]): Options {
  const options: Options = {
    rows: [1e6, 1e7, 3e7],
    nodes: [2, 3],
    reps: 1,
    verify: false,
    out: path.join(repoRoot, 'bench/results'),
    quick: false,
  };
  const numbers = (text: string | undefined, flag: string) => {
    const list = (text ?? '').split(',').map(Number);
    if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${flag} takes whole numbers separated by commas, e.g. ${flag} 1e6,1e7`);
    return list;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') {
      options.quick = true;
      options.rows = [1e6];
    } else if (arg === '--rows') options.rows = numbers(argv[++i], arg);
    else if (arg === '--nodes') options.nodes = numbers(argv[++i], arg);
    else if (arg === '--reps') options.reps = numbers(argv[++i], arg)[0]!;
    else if (arg === '--verify') options.verify = true;
    else if (arg === '--out') options.out = path.resolve(argv[++i] ?? '.');
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('*/')[0]!.replace(/^\/\*\*?|^ \* ?/gm, '') + '\n');
      process.exit(0);
    } else throw new Error(`unknown option ${arg} (try --help)`);
  }
  return options;
}

interface Measurement {
  rows: number;
  nodes: number;
  exchange: Exchange;
  rep: number;
  bytes: number;
  mapMs: number;
  reduceMs: number;
  shuffleMs: number;
  exchangeMs: number;
  phases: ShuffleRunResult['phases'];
  workers: Record<string, number>;
  verified: boolean | null;
  zeroCopy: boolean;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Capacity per store: its share of the inputs and of the partitions, plus room for skew. */
function storeMemory(inputBytes: number, nodes: number): number {
  const share = inputBytes / nodes;
  return Math.ceil((share * 2 + share * 0.6 + 128 * 1024 ** 2) / 1024 ** 2) * 1024 ** 2;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  installCleanupHandlers(() => undefined);
  const started = new Date();
  const loadAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  log(`loading flights-3m.parquet…`);
  const flights = await loadFlights();
  const measurements: Measurement[] = [];

  for (const rows of options.rows) {
    const table = replicateTable(flights, rows);
    const inputBytes = ipcStreamSize(table.schema, table.batches);
    for (const nodes of options.nodes) {
      const memory = storeMemory(inputBytes, nodes);
      const needed = memory * nodes;
      const free = fs.statfsSync('/dev/shm');
      if (needed > free.bavail * free.bsize) {
        log(`skipping ${rows.toLocaleString('en-US')} rows on ${nodes} nodes: the stores need ${(needed / 1e9).toFixed(1)} GB, /dev/shm has ${((free.bavail * free.bsize) / 1e9).toFixed(1)} GB free`);
        continue;
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ppshuffle-bench-'));
      // The harness's cluster: shared-memory transport forced, peers connected before use,
      // stores and region files removed even on Ctrl-C.
      const cluster = await startCluster(nodes, memory, 'shared', dir);
      const stop = async () => {
        await cluster.stop();
        fs.rmSync(dir, { recursive: true, force: true });
      };
      try {
        const sockets = cluster.sockets;
        const inputs = splitTable(table, nodes);
        for (let rep = 0; rep < options.reps; rep++) {
          // Alternate the order so neither exchange always runs on a warmer machine.
          const order: Exchange[] = rep % 2 === 0 ? ['zero-copy', 'copy'] : ['copy', 'zero-copy'];
          for (const exchange of order) {
            log(`${rows.toLocaleString('en-US')} rows, ${nodes} nodes, ${exchange}${options.reps > 1 ? `, run ${rep + 1}/${options.reps}` : ''}…`);
            const result = await runShuffle({
              sockets,
              inputs,
              keys: ['origin'],
              partitions: nodes,
              exchange,
              timeoutMs: 300_000,
              check: options.verify,
              groupStats: { by: 'origin', value: 'delay' },
            });
            const m: Measurement = {
              rows,
              nodes,
              exchange,
              rep,
              bytes: result.bytes,
              mapMs: result.phases.map,
              reduceMs: result.phases.reduce,
              shuffleMs: shuffleMs(result),
              exchangeMs: exchangeMs(result),
              phases: result.phases,
              workers: workerBreakdown(result),
              verified: options.verify ? shuffleVerified(result) : null,
              zeroCopy: result.zeroCopy,
            };
            measurements.push(m);
            log(`  map ${formatMs(m.mapMs)}, reduce ${formatMs(m.reduceMs)}, exchange only ${formatMs(m.exchangeMs)}${m.verified === false ? ' — VERIFICATION FAILED' : ''}`);
          }
        }
      } finally {
        await stop();
      }
    }
  }

  // One row per (rows, nodes): medians of each exchange and the ratios of this run.
  const summary = [...new Set(measurements.map((m) => `${m.rows}/${m.nodes}`))].map((key) => {
    const [rows, nodes] = key.split('/').map(Number) as [number, number];
    const of = (exchange: Exchange) => measurements.filter((m) => m.rows === rows && m.nodes === nodes && m.exchange === exchange);
    const zero = of('zero-copy');
    const copy = of('copy');
    const med = (list: Measurement[], f: (m: Measurement) => number) => median(list.map(f));
    return {
      rows,
      nodes,
      gigabytes: zero[0]!.bytes / 1e9,
      zeroCopy: { mapMs: med(zero, (m) => m.mapMs), reduceMs: med(zero, (m) => m.reduceMs), shuffleMs: med(zero, (m) => m.shuffleMs), exchangeMs: med(zero, (m) => m.exchangeMs) },
      copy: { mapMs: med(copy, (m) => m.mapMs), reduceMs: med(copy, (m) => m.reduceMs), shuffleMs: med(copy, (m) => m.shuffleMs), exchangeMs: med(copy, (m) => m.exchangeMs) },
      speedup: {
        shuffle: med(copy, (m) => m.shuffleMs) / med(zero, (m) => m.shuffleMs),
        exchange: med(copy, (m) => m.exchangeMs) / med(zero, (m) => m.exchangeMs),
      },
    };
  });

  const header = '| rows | nodes | GB exchanged | zero-copy map+reduce | copy map+reduce | speed-up | zero-copy exchange | copy exchange | exchange speed-up |';
  const rule = '|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const lines = summary.map(
    (s) =>
      `| ${s.rows.toLocaleString('en-US')} | ${s.nodes} | ${s.gigabytes.toFixed(2)} | ${formatMs(s.zeroCopy.shuffleMs)} | ${formatMs(s.copy.shuffleMs)} | ${s.speedup.shuffle.toFixed(2)}x | ` +
      `${formatMs(s.zeroCopy.exchangeMs)} | ${formatMs(s.copy.exchangeMs)} | ${s.speedup.exchange.toFixed(2)}x |`,
  );
  const table = [header, rule, ...lines].join('\n');
  process.stdout.write(`\n${table}\n`);
  const largest = summary.filter((s) => s.rows === Math.max(...summary.map((x) => x.rows)));
  const target = largest.map((s) => `${s.nodes} nodes: ${s.speedup.shuffle.toFixed(2)}x map+reduce, ${s.speedup.exchange.toFixed(2)}x exchange`).join('; ');
  process.stdout.write(`\ntarget (issue 7): zero-copy >= 3x faster than copy at 30M rows; measured at ${largest[0]?.rows.toLocaleString('en-US')} rows: ${target}\n`);

  const machine = machineInfo();
  // A run from an exported snapshot of the repository (no .git) can name its commit this way.
  if (!machine.gitCommit && process.env.PLASMAPOOL_BENCH_COMMIT) machine.gitCommit = process.env.PLASMAPOOL_BENCH_COMMIT;
  fs.mkdirSync(options.out, { recursive: true });
  const json = { benchmark: 'shuffle', started: started.toISOString(), loadAverageAtStart: loadAtStart, options, machine, summary, measurements };
  fs.writeFileSync(path.join(options.out, 'shuffle.json'), JSON.stringify(json, null, 2) + '\n');
  const md = [
    '# Shuffle benchmark',
    '',
    `Flights (vega-datasets flights-3m.parquet) replicated, shuffled by origin with one mapper and one reducer process per node; each reducer computes per-airport delay statistics. ` +
      `Run ${started.toISOString()} on ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, load average ${loadAtStart[0]} at the start and ${machine.loadAverage[0]} at the end; commit ${machine.gitCommit}${machine.gitDirty ? ' (dirty)' : ''}. ` +
      `Medians of ${options.reps} run(s) per cell.` +
      (Math.max(loadAtStart[0]!, machine.loadAverage[0]!) > machine.cores ? ` The load average exceeded the ${machine.cores} cores: other programs competed for the CPU, so absolute times are inflated and noisy; compare the ratios.` : ''),
    '',
    '- **map+reduce**: wall time from starting the mappers to the last reducer done (partitioning, exchange and per-airport statistics).',
    '- **exchange**: the slowest mapper\'s publish (zero-copy: put into its node\'s shared memory; copy: serialize, send over a Unix socket, wait for receipt) plus the slowest reducer\'s gather (zero-copy: get and open the objects in place; copy: open the received bytes).',
    '',
    table,
    '',
    `Target (issue 7): zero-copy at least 3x faster than copy at 30M rows. Measured at the largest size: ${target}.`,
    '',
    '![per-phase times](shuffle.svg)',
    '',
  ].join('\n');
  fs.writeFileSync(path.join(options.out, 'shuffle.md'), md);
  const svg = barChartSvg({
    title: 'Shuffle by origin airport: map+reduce and exchange time (median)',
    unit: 'ms',
    categories: summary.flatMap((s) => [`${s.rows / 1e6}M rows, ${s.nodes} nodes`, `  exchange only`]),
    series: [
      { name: 'zero-copy', color: '#2b7bba', values: summary.flatMap((s) => [s.zeroCopy.shuffleMs, s.zeroCopy.exchangeMs]) },
      { name: 'copy', color: '#e8743b', values: summary.flatMap((s) => [s.copy.shuffleMs, s.copy.exchangeMs]) },
    ],
    width: 820,
  });
  fs.writeFileSync(path.join(options.out, 'shuffle.svg'), svg);
  log(`wrote ${path.relative(process.cwd(), path.join(options.out, 'shuffle.json'))}, shuffle.md and shuffle.svg`);
  if (measurements.some((m) => m.verified === false)) process.exitCode = 1;
}

try {
  await main();
} catch (error) {
  process.stderr.write(`bench/shuffle: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  await cleanupAll();
}
process.exit(process.exitCode ?? 0);
