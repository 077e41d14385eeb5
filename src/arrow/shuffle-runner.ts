/**
 * The shuffle coordinator: places each mapper's input in its node's store, starts one process per
 * mapper and per reducer (each attached to its own node's socket), runs the map phase, then the
 * reduce phase, checks the result and deletes the job's objects. Used by `plasmapool shuffle`,
 * the benchmark and the notebook.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Table } from 'apache-arrow';
import { connect, type PlasmaClient } from '../client/plasma-client.js';
import { putTable } from './table-objects.js';
import { checkJobName, deleteShuffleJob, inputObjectId, newJobId } from './shuffle.js';
import { addChecksums, mergeGroupStats, rowChecksum, type GroupStat, type RowChecksum } from './shuffle-stats.js';
import type { Exchange, MapperReport, MapperTask, ReducerReport, ReducerTask, WorkerMessage, WorkerReport, WorkerTask } from './shuffle-protocol.js';

export type { Exchange, MapperReport, ReducerReport } from './shuffle-protocol.js';

export type ShufflePhase = 'place' | 'spawn' | 'map' | 'reduce' | 'verify' | 'cleanup';

export interface ShuffleProgress {
  phase: ShufflePhase;
  /** Steps done in this phase (workers finished, inputs placed...). */
  done: number;
  total: number;
}

export interface ShuffleRunOptions {
  /** One store socket per node. Mapper m runs on node m mod N, reducer p on node p mod N. */
  sockets: readonly string[];
  /** One input table per mapper: what "its node produced". */
  inputs: readonly Table[];
  keys: readonly string[];
  partitions: number;
  exchange: Exchange;
  /** Job name (default: random). */
  job?: string;
  /** Wait this long for inputs and partitions, ms (default 60,000). */
  timeoutMs?: number;
  /** Check routing and a checksum of all rows against the inputs (default true). */
  check?: boolean;
  /** Reducers compute per-group statistics of `value` grouped by `by`. */
  groupStats?: { by: string; value: string };
  /** Rows partitioned at once by a mapper. */
  sliceRows?: number;
  /** Keep the job's objects (default: delete them at the end). */
  keepObjects?: boolean;
  onProgress?: (progress: ShuffleProgress) => void;
}

export interface ShuffleRunResult {
  job: string;
  exchange: Exchange;
  nodes: number;
  mappers: number;
  partitions: number;
  /** Input rows. */
  rows: number;
  /** Bytes exchanged (sum of the partition objects or frames). */
  bytes: number;
  /** Wall-clock time of each phase, ms. */
  phases: Record<ShufflePhase, number>;
  mapperReports: MapperReport[];
  reducerReports: ReducerReport[];
  /** Merged statistics of all reducers, sorted by key (when groupStats was asked for). */
  groupStats?: GroupStat[];
  /** Whether every reducer's table was made of views of the exchanged memory. */
  zeroCopy: boolean;
  verification?: { rows: boolean; routing: boolean; checksum: boolean; expected: RowChecksum; actual: RowChecksum };
}

/** How to start the worker: the compiled .js next to this file, or the .ts source through tsx. */
function workerEntry(): { file: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.ts')) {
    const tsx = createRequire(import.meta.url).resolve('tsx');
    return { file: path.join(path.dirname(here), 'shuffle-worker.ts'), execArgv: ['--import', pathToFileURL(tsx).href] };
  }
  return { file: path.join(path.dirname(here), 'shuffle-worker.js'), execArgv: [] };
}

/** A worker process and what it will eventually say. */
class Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly result: Promise<WorkerReport>;
  private stderr = '';

  constructor(
    readonly task: WorkerTask,
    readonly label: string,
  ) {
    const entry = workerEntry();
    this.child = fork(entry.file, [], { execArgv: entry.execArgv, stdio: ['ignore', 'inherit', 'pipe', 'ipc'], serialization: 'advanced' });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) =>
      this.child.once('exit', (code, signal) =>
        reject(new Error(`${label} exited (${signal ?? `code ${code}`}) without a result${this.stderr ? `:\n${this.stderr.trim()}` : ''}`)),
      ),
    );
    exited.catch(() => undefined);
    const messages = (type: WorkerMessage['type']) =>
      new Promise<WorkerMessage>((resolve) => {
        const onMessage = (message: WorkerMessage) => {
          if (message.type === type || message.type === 'error') {
            this.child.off('message', onMessage);
            resolve(message);
          }
        };
        this.child.on('message', onMessage);
      });
    const fail = (message: WorkerMessage): never => {
      const error = (message as Extract<WorkerMessage, { type: 'error' }>).error;
      const e = new Error(`${label}: ${error.message}`) as Error & { code?: string; workerName?: string; workerStack?: string };
      e.code = error.code;
      e.workerName = error.name;
      e.workerStack = error.stack;
      throw e;
    };
    this.ready = Promise.race([messages('ready').then((m) => (m.type === 'ready' ? undefined : fail(m))), exited]);
    this.result = Promise.race([messages('result').then((m) => (m.type === 'result' ? m.result : fail(m))), exited]);
    this.ready.catch(() => undefined);
    this.result.catch(() => undefined);
    this.child.send({ type: 'start', task });
  }

  go(): void {
    this.child.send({ type: 'go' });
  }

  /** Wait for the process to exit (kill it if it lingers). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (!child.connected) child.kill('SIGTERM');
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

/** Settle all promises; throw the first failure (after all are settled). */
async function allOrFirstError<T>(promises: readonly Promise<T>[], onEach?: () => void): Promise<T[]> {
  const results = await Promise.allSettled(
    promises.map((p) =>
      p.then((v) => {
        onEach?.();
        return v;
      }),
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Place each mapper's input in its node's store (the data "its node produced"). */
export async function placeInputs(clients: readonly PlasmaClient[], job: string, inputs: readonly Table[], onEach?: () => void): Promise<number[]> {
  const sizes: number[] = [];
  for (let m = 0; m < inputs.length; m++) {
    sizes.push(await putTable(clients[m % clients.length]!, inputObjectId(job, m), inputs[m]!));
    onEach?.();
  }
  return sizes;
}

/**
 * Run one shuffle job end to end with separate mapper and reducer processes. Throws (after
 * stopping every worker and deleting the job's objects) if any worker fails.
 */
export async function runShuffle(options: ShuffleRunOptions): Promise<ShuffleRunResult> {
  const job = options.job ?? newJobId();
  checkJobName(job);
  const nodes = options.sockets.length;
  const mappers = options.inputs.length;
  const partitions = options.partitions;
  if (nodes < 1) throw new TypeError('give at least one store socket');
  if (mappers < 1) throw new TypeError('give at least one input table (one per mapper)');
  const timeoutMs = options.timeoutMs ?? 60_000;
  const keys = [...options.keys];
  const progress = options.onProgress ?? (() => undefined);
  const phases: Record<ShufflePhase, number> = { place: 0, spawn: 0, map: 0, reduce: 0, verify: 0, cleanup: 0 };
  const timed = async <T>(phase: ShufflePhase, total: number, work: (step: () => void) => Promise<T>): Promise<T> => {
    let done = 0;
    progress({ phase, done, total });
    const t0 = performance.now();
    try {
      return await work(() => progress({ phase, done: ++done, total }));
    } finally {
      phases[phase] = performance.now() - t0;
    }
  };

  const clients = await Promise.all(options.sockets.map((socket) => connect(socket)));
  const copyDir = options.exchange === 'copy' ? fs.mkdtempSync(path.join(os.tmpdir(), 'ppx-')) : null;
  const workers: Worker[] = [];
  try {
    await timed('place', mappers, (step) => placeInputs(clients, job, options.inputs, step));

    const base = { job, mappers, partitions, keys, timeoutMs };
    const reducerSockets = Array.from({ length: partitions }, (_, p) => (copyDir ? path.join(copyDir, `r${p}.sock`) : ''));
    const mapperWorkers = Array.from({ length: mappers }, (_, m) => {
      const task: MapperTask = {
        ...base,
        role: 'mapper',
        socket: options.sockets[m % nodes]!,
        mapper: m,
        sliceRows: options.sliceRows,
        exchange: copyDir ? { kind: 'copy', reducerSockets } : { kind: 'zero-copy' },
      };
      return new Worker(task, `mapper ${m} (node ${m % nodes})`);
    });
    const reducerWorkers = Array.from({ length: partitions }, (_, p) => {
      const task: ReducerTask = {
        ...base,
        role: 'reducer',
        socket: options.sockets[p % nodes]!,
        partition: p,
        exchange: copyDir ? { kind: 'copy', listen: reducerSockets[p]! } : { kind: 'zero-copy' },
        check: options.check ?? true,
        groupStats: options.groupStats,
      };
      return new Worker(task, `reducer ${p} (node ${p % nodes})`);
    });
    workers.push(...mapperWorkers, ...reducerWorkers);
    await timed('spawn', workers.length, (step) => allOrFirstError(workers.map((w) => w.ready), step));

    // Map: mappers partition and publish. In the copy exchange a mapper is done when every reducer
    // has confirmed receipt, so the transfer counts here, as the put into shared memory does.
    const mapperReports = await timed('map', mappers, (step) => {
      for (const w of mapperWorkers) w.go();
      return allOrFirstError(mapperWorkers.map((w) => w.result as Promise<MapperReport>), step);
    });
    // Reduce: gather (zero-copy: open the objects; copy: open the received bytes) and compute.
    const reducerReports = await timed('reduce', partitions, (step) => {
      for (const w of reducerWorkers) w.go();
      return allOrFirstError(reducerWorkers.map((w) => w.result as Promise<ReducerReport>), step);
    });
    await Promise.all(workers.map((w) => w.stop()));

    const rows = options.inputs.reduce((n, t) => n + t.numRows, 0);
    const result: ShuffleRunResult = {
      job,
      exchange: options.exchange,
      nodes,
      mappers,
      partitions,
      rows,
      bytes: reducerReports.reduce((n, r) => n + r.bytes.reduce((a, b) => a + b, 0), 0),
      phases,
      mapperReports,
      reducerReports,
      zeroCopy: reducerReports.every((r) => r.zeroCopy),
    };
    if (options.groupStats) result.groupStats = mergeGroupStats(reducerReports.map((r) => r.groupStats ?? []));
    if (options.check ?? true) {
      await timed('verify', 1, async (step) => {
        const expected = addChecksums(options.inputs.map(rowChecksum));
        const actual = addChecksums(reducerReports.map((r) => r.check!.checksum));
        result.verification = {
          rows: reducerReports.reduce((n, r) => n + r.rows, 0) === rows,
          routing: reducerReports.every((r) => r.check!.misrouted === 0),
          checksum: expected.rows === actual.rows && expected.lo === actual.lo && expected.hi === actual.hi,
          expected,
          actual,
        };
        step();
      });
    }
    return result;
  } finally {
    for (const w of workers) w.kill();
    await Promise.all(workers.map((w) => w.stop()));
    if (!options.keepObjects) {
      await timed('cleanup', 1, async (step) => {
        await deleteShuffleJob(clients, { job, mappers, partitions }).catch(() => undefined);
        step();
      });
    }
    for (const client of clients) client.close();
    if (copyDir) fs.rmSync(copyDir, { recursive: true, force: true });
  }
}

/** True when every check of a run passed. */
export function shuffleVerified(result: ShuffleRunResult): boolean {
  const v = result.verification;
  return !!v && v.rows && v.routing && v.checksum;
}
