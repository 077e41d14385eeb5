/**
 * `plasmapool shuffle`: repartition an Arrow or Parquet file by key across a local cluster with
 * one mapper and one reducer process per node, and print the time of each phase.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommandModule } from 'yargs';
import type { Table } from 'apache-arrow';
import { startLocalCluster, waitForPeers, type LocalCluster } from '../cluster/local-cluster.js';
import { flightsParquetPath, loadTable, replicateTable, splitTable } from '../arrow/dataset.js';
import { runShuffle, shuffleVerified, type Exchange, type ShufflePhase, type ShuffleRunResult } from '../arrow/shuffle-runner.js';
import { ALL_PHASES, exchangeMs, formatMs, phaseTable, shuffleMs, workerBreakdown } from '../arrow/shuffle-report.js';
import { ipcStreamSize } from '../arrow/table-objects.js';
import { formatSize, parseSize } from '../util/size.js';

interface ShuffleArgs {
  input?: string;
  nodes: number;
  key: string;
  partitions?: number;
  sockets?: string;
  exchange: Exchange | 'both';
  memory?: string;
  rows?: number;
  stats?: string;
  'timeout-ms': number;
  json: boolean;
  progress: boolean;
}

/** Ask one node of a cluster for its status (null if it does not answer in time). */
/**
 * Wait until every node of a local cluster has connected to every peer: until then a store cannot
 * find objects its peers own, and refuses to seal ids whose home node it cannot reach.
 * (startLocalCluster already waits; this is for clusters started otherwise.)
 */
export async function waitForClusterPeers(cluster: LocalCluster, timeoutMs = 30_000): Promise<void> {
  await waitForPeers(cluster.nodes, timeoutMs, cluster.access);
}

/** Start N local stores forming a cluster, and return once their peers are connected. */
export async function startShuffleCluster(options: { nodes: number; memory: number | string; dir: string; timeoutMs?: number }): Promise<LocalCluster> {
  // startLocalCluster returns once every store is connected to every peer.
  return startLocalCluster({ nodes: options.nodes, memory: options.memory, dir: options.dir, peerTimeoutMs: 5000, connectTimeoutMs: options.timeoutMs });
}

/** Store capacity for a node: its input and its partitions, plus room. */
function defaultMemory(inputBytes: number, nodes: number): number {
  const perNode = Math.ceil(inputBytes / nodes);
  return Math.max(64 * 1024 ** 2, Math.ceil(perNode * 2.5) + 64 * 1024 ** 2);
}

/** One progress bar over all phases of all runs. */
/** cli-progress is an optional dependency: without it the shuffle runs without a bar. */
async function loadProgress(): Promise<typeof import('cli-progress') | null> {
  try {
    return (await import('cli-progress')).default;
  } catch {
    process.stderr.write('plasmapool shuffle: no progress bar (the optional package cli-progress is not installed)\n');
    return null;
  }
}

function progressBar(cliProgress: typeof import('cli-progress') | null, runs: number): { onProgress: (p: { phase: ShufflePhase; done: number; total: number }) => void; stop(): void; label(run: string): void } {
  if (!cliProgress) return { onProgress: () => undefined, stop: () => undefined, label: () => undefined };
  const bar = new cliProgress.SingleBar(
    { format: 'shuffle {run} {bar} {phase} {done}/{steps} | {duration_formatted}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  const stepsPerRun = ALL_PHASES.length;
  bar.start(stepsPerRun * runs, 0, { run: '', phase: 'load', done: 0, steps: 0 });
  let finishedPhases = 0;
  let current: ShufflePhase | null = null;
  return {
    label: (run) => bar.update({ run }),
    onProgress: ({ phase, done, total }) => {
      if (phase !== current) {
        if (current) finishedPhases++;
        current = phase;
      }
      bar.update(finishedPhases + (total ? done / total : 0), { phase, done, steps: total });
    },
    stop: () => bar.stop(),
  };
}

export const shuffleCommand: CommandModule<object, ShuffleArgs> = {
  command: 'shuffle',
  describe: 'hash-repartition an Arrow/Parquet file across local stores (mapper and reducer processes per node)',
  builder: (y) =>
    y
      .option('input', { type: 'string', describe: 'Arrow IPC or Parquet file (default: flights-3m.parquet from vega-datasets)' })
      .option('nodes', { type: 'number', default: 3, describe: 'stores to start (ignored with --sockets)' })
      .option('key', { type: 'string', default: 'origin', describe: 'key column(s) to partition by, comma-separated' })
      .option('partitions', { type: 'number', describe: 'partitions = reducers (default: one per node)' })
      .option('sockets', { type: 'string', describe: 'existing stores of a cluster, comma-separated (one per node)' })
      .option('exchange', { type: 'string', choices: ['zero-copy', 'copy', 'both'] as const, default: 'zero-copy' as const })
      .option('memory', { type: 'string', describe: 'capacity of each started store (default: 2.5x its share of the input)' })
      .option('rows', { type: 'number', describe: 'use this many rows (the input is repeated or cut to fit)' })
      .option('stats', { type: 'string', describe: 'numeric column whose per-key count/mean/min/max reducers compute (e.g. delay)' })
      .option('timeout-ms', { type: 'number', default: 60_000, describe: 'how long reducers wait for a partition' })
      .option('json', { type: 'boolean', default: false, describe: 'print the full results as JSON' })
      .option('progress', { type: 'boolean', default: true, describe: 'show a progress bar (on stderr)' })
      .check((args) => {
        if (!Number.isInteger(args.nodes) || args.nodes < 1 || args.nodes > 64) throw new Error('--nodes must be a whole number from 1 to 64');
        if (args.partitions !== undefined && (!Number.isInteger(args.partitions) || args.partitions < 1)) throw new Error('--partitions must be a whole number >= 1');
        if (args.rows !== undefined && (!Number.isInteger(args.rows) || args.rows < 1)) throw new Error('--rows must be a whole number >= 1');
        if (args.memory) parseSize(args.memory);
        return true;
      }) as never,
  handler: async (args) => {
    const out = (line = '') => process.stdout.write(`${line}\n`);
    const keys = args.key.split(',').map((k) => k.trim()).filter(Boolean);
    const file = args.input ?? flightsParquetPath();

    const t0 = performance.now();
    let table: Table = await loadTable(file);
    if (args.rows !== undefined) table = replicateTable(table, args.rows);
    const loadMs = performance.now() - t0;
    for (const key of keys) {
      if (!table.schema.fields.some((f) => f.name === key)) {
        throw new Error(`${path.basename(file)} has no column ${JSON.stringify(key)}: its columns are ${table.schema.fields.map((f) => f.name).join(', ')}`);
      }
    }
    const inputBytes = ipcStreamSize(table.schema, table.batches);

    let cluster: LocalCluster | null = null;
    let clusterDir: string | null = null;
    let sockets: string[];
    if (args.sockets) {
      sockets = args.sockets.split(',').map((s) => s.trim()).filter(Boolean);
    } else {
      const memory = args.memory ? parseSize(args.memory) : defaultMemory(inputBytes, args.nodes);
      clusterDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasmapool-shuffle-'));
      out(`starting ${args.nodes} stores of ${formatSize(memory)} (a local cluster in ${clusterDir})`);
      cluster = await startShuffleCluster({ nodes: args.nodes, memory, dir: clusterDir });
      sockets = cluster.nodes.map((n) => n.socketPath);
    }
    const stop = async () => {
      await cluster?.close();
      if (clusterDir) fs.rmSync(clusterDir, { recursive: true, force: true });
    };
    const onSignal = () => void stop().then(() => process.exit(130));
    process.once('SIGINT', onSignal);

    const partitions = args.partitions ?? sockets.length;
    const inputs = splitTable(table, sockets.length);
    out(
      `input ${path.basename(file)}: ${table.numRows.toLocaleString('en-US')} rows, ${formatSize(inputBytes)} as Arrow IPC, loaded in ${formatMs(loadMs)}; ` +
        `${sockets.length} nodes, ${partitions} partitions by ${keys.join(', ')}`,
    );
    const exchanges: Exchange[] = args.exchange === 'both' ? ['zero-copy', 'copy'] : [args.exchange];
    const bar = progressBar(args.progress && process.stderr.isTTY === true ? await loadProgress() : null, exchanges.length);
    const results: ShuffleRunResult[] = [];
    try {
      for (const exchange of exchanges) {
        bar.label(exchange);
        results.push(
          await runShuffle({
            sockets,
            inputs,
            keys,
            partitions,
            exchange,
            timeoutMs: args['timeout-ms'],
            groupStats: args.stats ? { by: keys[0]!, value: args.stats } : undefined,
            onProgress: bar.onProgress,
          }),
        );
      }
    } finally {
      bar.stop();
      process.off('SIGINT', onSignal);
      await stop();
    }

    out();
    out(`load ${formatMs(loadMs)} (read and decode ${path.basename(file)}, once)`);
    out(phaseTable(results));
    for (const result of results) {
      const ok = shuffleVerified(result);
      out();
      out(
        `${result.exchange}: ${result.rows.toLocaleString('en-US')} rows, ${formatSize(result.bytes)} exchanged, map+reduce ${formatMs(shuffleMs(result))}` +
          ` (${((result.rows / shuffleMs(result)) * 1000 / 1e6).toFixed(1)} M rows/s); ` +
          `verify: ${ok ? 'rows, routing and checksum match the input' : `FAILED ${JSON.stringify(result.verification)}`}; ` +
          `reducers zero-copy: ${result.zeroCopy ? 'yes' : 'no'}`,
      );
      const breakdown = workerBreakdown(result);
      out(`  slowest worker: ${Object.entries(breakdown).map(([k, v]) => `${k} ${formatMs(v)}`).join(', ')}`);
      out(`  rows per partition: ${result.reducerReports.map((r) => r.rows.toLocaleString('en-US')).join(', ')}`);
    }
    if (results.length === 2) {
      const [zero, copy] = results as [ShuffleRunResult, ShuffleRunResult];
      out();
      out(
        `speed-up of zero-copy over copy: map+reduce ${(shuffleMs(copy) / shuffleMs(zero)).toFixed(2)}x, ` +
          `exchange only ${(exchangeMs(copy) / exchangeMs(zero)).toFixed(2)}x`,
      );
    }
    if (args.json) out(JSON.stringify({ input: file, loadMs, results }, null, 2));
    if (!results.every(shuffleVerified)) process.exitCode = 1;
  },
};
