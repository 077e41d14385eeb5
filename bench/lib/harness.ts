/**
 * One benchmark run, start to finish: plan the work (for the progress bar), run the sections in
 * order, each against stores started for it and stopped after it, then write results.json,
 * results.md and the pictures, and print the targets. A section that breaks is reported and
 * the run goes on; the exit code says whether every section ran.
 */
import os from 'node:os';
import path from 'node:path';
import { cleanupAll, installCleanupHandlers, interruptedBy } from './cleanup.js';
import { machineInfo } from './machine.js';
import type { BenchOptions, Section, Workload } from './options.js';
import { checkPython, PythonDriver, startCluster, startPlasmapoolStore, startReferenceStore, tempDir, type StoreProcess } from './processes.js';
import { objectCost, Progress } from './progress.js';
import { grpcRoundTrips } from './grpc-status.js';
import { writeReport, markdown } from './report.js';
import type { BenchResults, MatrixRow, RawWorkload, SeriesKey } from './results.js';
import { addSamples, opStats, summarize } from './stats.js';
import { evaluateTargets, targetLine } from './targets.js';
import { randomSource } from './touch.js';
import { memcpyNode, unixPingPong } from '../workloads/baselines.js';
import { runMatrix } from '../workloads/matrix.js';
import { procMemory, runMemory } from '../workloads/memory.js';
import { startScale, SCALE_DESCRIPTION } from '../workloads/scale.js';
import { runSmallOps } from '../workloads/small-ops.js';
import { runTables } from '../workloads/tables.js';

/** Rough milliseconds of work, for the progress bar only. */
const STARTUP = 1500;
/** Rough milliseconds of bench/py/small_ops.py (progress bar only). */
const SMALL_OPS_COST = { full: 120_000, quick: 20_000 } as const;
let warmupRepeats = 0;
const workloadCost = (w: Workload, factor = 1, perMB = 0) => (w.repeats + warmupRepeats) * w.count * (objectCost(w.size) * factor + (perMB * w.size) / 1e6);
const COPY_MS_PER_MB = 4; // the copy transport's first get moves the bytes over gRPC
const PYTHON_FACTOR = 1.3;
const REMOTE_FACTOR = 5; // a remote get pays a gRPC round trip (~1 ms) on top of ~0.25 ms


function rowOf(key: SeriesKey, raw: RawWorkload): MatrixRow {
  const ops: MatrixRow['ops'] = {};
  for (const [op, samples] of Object.entries(raw.samplesUs)) ops[op as keyof MatrixRow['ops']] = opStats(samples!, raw.size);
  if (raw.samplesUs.get && raw.samplesUs.release) ops.getRelease = opStats(addSamples(raw.samplesUs.get, raw.samplesUs.release), raw.size);
  return { ...key, count: raw.count, size: raw.size, repeats: raw.repeats, ops };
}

export async function runBenchmarks(options: BenchOptions): Promise<number> {
  const has = (s: Section) => options.sections.has(s);
  warmupRepeats = options.warmup;
  const python = options.python && (has('pyarrow') || has('baselines') || has('memory')) ? checkPython(options.python) : null;
  const cores = os.cpus().length;

  // ------------------------------------------------------------ plan
  const W = options.workloads;
  const R = options.remoteWorkloads;
  const PR = options.pyarrowRemoteWorkloads;
  const T = options.tableWorkloads;
  const sum = (ws: Workload[], f: (w: Workload) => number) => ws.reduce((a, w) => a + f(w), 0);
  let total = 0;
  if (has('baselines')) total += 2000 + (python ? 1500 : 0);
  if (has('pyarrow') && python) total += 2 * STARTUP + 2 * sum(W, (w) => workloadCost(w, PYTHON_FACTOR));
  if (has('pyarrow') && python && options.pyarrowRemote) total += sum(PR, (w) => workloadCost(w, REMOTE_FACTOR));
  if (has('matrix')) total += STARTUP * 6 + sum(W, (w) => workloadCost(w)) + sum(R, (w) => workloadCost(w, REMOTE_FACTOR)) + sum(R, (w) => workloadCost(w, REMOTE_FACTOR, COPY_MS_PER_MB));
  if (has('tables')) total += 2 * sum(T, (w) => workloadCost(w, 2)) + sum(T, (w) => (w.repeats + warmupRepeats) * Math.min(w.size * w.count, 1e8) * 6e-6);
  if (has('pyarrow') && python) total += SMALL_OPS_COST[options.mode];
  if (has('scale')) total += 2 * STARTUP + options.scaleClients.length * (2 * options.scaleSeconds * 1000 + 500);
  if (has('memory')) total += STARTUP + options.memoryObjects * 0.03 + (python ? 2 * STARTUP + 2 * options.memoryObjectsPyarrow * 0.1 : 0);

  const progress = new Progress(total, options.tty);
  installCleanupHandlers(() => progress.stop());
  const started = Date.now();
  const startedAt = new Date().toISOString();
  const machine = machineInfo();
  const failures: string[] = [];
  const parts: { name: string; seconds: number }[] = [];
  const skipped: string[] = [];
  const notes: string[] = [];
  const results: Omit<BenchResults, 'targets'> = {
    meta: { mode: options.mode, startedAt, seconds: 0, machine, workloads: W, remoteWorkloads: R, pyarrowRemoteWorkloads: PR, tableWorkloads: T, notes, parts },
    baselines: {},
    matrix: [],
    tables: [],
    scale: [],
    scaleDescription: SCALE_DESCRIPTION,
    memory: null,
    memoryComparison: [],
    skipped,
  };
  let py: PythonDriver | null = null;
  if (python) {
    py = new PythonDriver(options.python!);
    Object.assign(machine, await py.request<{ pyarrow: string; numpy: string; python: string }>({ op: 'hello' }));
  }
  if (!options.python) skipped.push('pyarrow client, reference store and numpy copy (--no-python)');

  const maxSize = Math.max(options.memcpyBytes, ...W.map((w) => w.size), ...T.map((w) => w.size));
  const source = randomSource(maxSize + 4 * 1024 * 1024);
  const tmp = tempDir();
  const sock = (name: string) => path.join(tmp.dir, `${name}.sock`);

  /** Run one part; a failure is recorded and the run goes on (unless interrupted). */
  const part = async (name: string, body: () => Promise<void>) => {
    progress.stage(name);
    const t0 = Date.now();
    try {
      await body();
      parts.push({ name, seconds: (Date.now() - t0) / 1000 });
    } catch (error) {
      if (interruptedBy()) throw error;
      failures.push(`${name}: ${(error as Error).message}`);
      progress.log(`bench: ${name} failed: ${(error as Error).stack ?? error}`);
    }
  };

  try {
    // ------------------------------------------------------------ the machine
    if (has('baselines')) {
      await part('memcpy and Unix socket round trip', async () => {
        results.baselines.memcpyNode = memcpyNode(source, options.memcpyBytes, options.mode === 'full' ? 30 : 10);
        results.baselines.unixPingPong = await unixPingPong(tmp.dir, options.mode === 'full' ? 10_000 : 2000);
        progress.advance(2000);
      });
      if (py) {
        await part('numpy copy', async () => {
          const out = await py!.request<{ bytes: number; samplesUs: number[] }>({ op: 'memcpy', bytes: options.memcpyBytes, repeats: options.mode === 'full' ? 30 : 10 });
          const s = summarize(out.samplesUs);
          results.baselines.memcpyNumpy = { bytes: out.bytes, medianUs: s.medianUs, gbps: out.bytes / (s.medianUs * 1e3), n: s.n };
          progress.advance(1500);
        });
      }
    }

    // ------------------------------------------------------------ one store: pyarrow side by side, TS local, tables local
    const needSingle = (has('pyarrow') && python) || has('matrix') || has('tables');
    if (needSingle) {
      let single: StoreProcess | null = null;
      await part('starting a plasmapool store', async () => {
        single = await startPlasmapoolStore(sock('plasmapool'), options.storeMemory);
      });
      if (single) {
        const store = single as StoreProcess;
        if (has('pyarrow') && python) {
          let reference: StoreProcess | null = null;
          await part('starting the reference store', async () => {
            reference = await startReferenceStore(python.referenceStore, sock('reference'), options.storeMemory);
          });
          const raws: Record<'reference' | 'plasmapool', RawWorkload[]> = { reference: [], plasmapool: [] };
          // Interleaved per workload (reference, then plasmapool) so that drift on a noisy machine
          // hits both stores alike.
          for (const w of W) {
            for (const kind of ['reference', 'plasmapool'] as const) {
              const target = kind === 'reference' ? (reference as StoreProcess | null) : store;
              if (!target) continue;
              await part(`pyarrow → ${kind}, ${w.count} × ${w.size} B`, async () => {
                const raw = await py!.request<RawWorkload>({ op: 'workload', producer: target.socketPath, consumer: target.socketPath, warmup: options.warmup, ...w }, (objects) =>
                  progress.advance(objects * objectCost(w.size) * PYTHON_FACTOR),
                );
                raws[kind].push(raw);
              });
            }
          }
          for (const kind of ['reference', 'plasmapool'] as const) {
            for (const raw of raws[kind]) results.matrix.push(rowOf({ client: 'pyarrow', store: kind, placement: 'local' }, raw));
          }
          if (reference) await (reference as StoreProcess).stop();
          progress.advance(STARTUP);
        }
        if (has('matrix')) {
          await part('TS client, local', async () => {
            const raws = await runMatrix({
              producerSocket: store.socketPath,
              consumerSocket: store.socketPath,
              placement: 'local',
              workloads: W,
              warmup: options.warmup,
              source,
              onRepeat: (w) => progress.advance(workloadCost({ ...w, repeats: 1 })),
            });
            for (const raw of raws) results.matrix.push(rowOf({ client: 'ts', store: 'plasmapool', placement: 'local' }, raw));
          });
        }
        if (has('tables')) {
          await part('Arrow tables, local', async () => {
            results.tables.push(
              ...(await runTables({
                producerSocket: store.socketPath,
                consumerSocket: store.socketPath,
                placement: 'local',
                workloads: T,
                source,
                baselines: true,
                warmup: options.warmup,
                onRepeat: (w) => progress.advance(workloadCost({ ...w, repeats: 1 }, 2) + Math.min(w.size * w.count, 1e8) * 6e-6),
              })),
            );
          });
        }
        await store.stop();
        progress.advance(STARTUP);
      }
    }

    // ------------------------------------------------------------ 3-node cluster, shared transport
    if (has('matrix') || has('tables') || (has('pyarrow') && python && options.pyarrowRemote)) {
      await part('3-node cluster, shared transport', async () => {
        const dir = path.join(tmp.dir, 'shared');
        const cluster = await startCluster(3, options.storeMemory, 'shared', dir);
        progress.advance(STARTUP * 2);
        try {
          const [owner, remote] = cluster.sockets as [string, string, string];
          await part('gRPC round trip', async () => {
            const s = summarize(await grpcRoundTrips(cluster.cluster.nodes[1]!.address, cluster.cluster.access, options.mode === 'full' ? 2000 : 300));
            results.baselines.grpcRoundTrip = { call: '@grpc/grpc-js, the cluster Status call, to a node of this run', medianUs: s.medianUs, p99Us: s.p99Us, n: s.n };
          });
          if (has('matrix')) {
            await part('TS client, remote (shared)', async () => {
              const raws = await runMatrix({
                producerSocket: owner,
                consumerSocket: remote,
                placement: 'shared',
                workloads: R,
                warmup: options.warmup,
                source,
                onRepeat: (w) => progress.advance(workloadCost({ ...w, repeats: 1 }, REMOTE_FACTOR)),
              });
              for (const raw of raws) results.matrix.push(rowOf({ client: 'ts', store: 'plasmapool', placement: 'shared' }, raw));
            });
          }
          if (has('pyarrow') && python && options.pyarrowRemote) {
            for (const w of PR) {
              await part(`pyarrow → plasmapool, remote (shared), ${w.count} × ${w.size} B`, async () => {
                const raw = await py!.request<RawWorkload>({ op: 'workload', producer: owner, consumer: remote, warmup: options.warmup, ...w }, (objects) =>
                  progress.advance(objects * objectCost(w.size) * REMOTE_FACTOR),
                );
                results.matrix.push(rowOf({ client: 'pyarrow', store: 'plasmapool', placement: 'shared' }, raw));
              });
            }
          }
          if (has('tables')) {
            await part('Arrow tables, remote (shared)', async () => {
              results.tables.push(
                ...(await runTables({
                  producerSocket: owner,
                  consumerSocket: remote,
                  placement: 'shared',
                  workloads: T,
                  source,
                  baselines: false,
                  warmup: options.warmup,
                  onRepeat: (w) => progress.advance(workloadCost({ ...w, repeats: 1 }, 2)),
                })),
              );
            });
          }
        } finally {
          await cluster.stop();
        }
      });
    }

    // ------------------------------------------------------------ 2-node cluster, copy transport
    if (has('matrix')) {
      await part('2-node cluster, copy transport', async () => {
        const cluster = await startCluster(2, options.storeMemory, 'copy', path.join(tmp.dir, 'copy'));
        progress.advance(STARTUP * 2);
        try {
          const [owner, remote] = cluster.sockets as [string, string];
          const raws = await runMatrix({
            producerSocket: owner,
            consumerSocket: remote,
            placement: 'copy',
            workloads: R,
            warmup: options.warmup,
            source,
            onRepeat: (w) => progress.advance(workloadCost({ ...w, repeats: 1 }, REMOTE_FACTOR, COPY_MS_PER_MB)),
          });
          for (const raw of raws) results.matrix.push(rowOf({ client: 'ts', store: 'plasmapool', placement: 'copy' }, raw));
        } finally {
          await cluster.stop();
        }
      });
    }

    // ------------------------------------------------------------ issue 10: pyarrow small operations, both stores alternating
    if (has('pyarrow') && python) {
      await part('pyarrow small operations and 100 MB get, both stores alternating (bench/py/small_ops.py)', async () => {
        const tmp = tempDir('plasmapool-bench-small-ops-');
        try {
          results.smallOps = await runSmallOps(options.python!, options.mode, tmp.dir);
        } finally {
          await tmp.remove();
        }
        progress.advance(SMALL_OPS_COST[options.mode]);
      });
    }

    // ------------------------------------------------------------ scale
    if (has('scale')) {
      await part('scale', async () => {
        const store = await startPlasmapoolStore(sock('scale'), options.storeMemory);
        try {
          const scale = await startScale(store.socketPath, options.scaleSeconds);
          progress.advance(STARTUP);
          try {
            for (const clients of options.scaleClients) {
              progress.stage(`scale: ${clients} concurrent clients`);
              results.scale.push(await scale.level(clients));
              progress.advance(2 * options.scaleSeconds * 1000 + 500);
            }
            if (options.scaleIdleConnections > 0) {
              progress.stage(`scale: 8 clients + ${options.scaleIdleConnections} idle connections`);
              results.scale.push(await scale.level(8, options.scaleIdleConnections));
            }
          } finally {
            await scale.close();
          }
        } finally {
          await store.stop();
        }
      });
    }

    // ------------------------------------------------------------ memory per object
    if (has('memory')) {
      await part(`memory per object (${options.memoryObjects.toLocaleString('en')} objects)`, async () => {
        // 64 B objects take 64 B of region each (64-byte alignment); leave room for the allocator.
        const memory = Math.max(256e6, options.memoryObjects * 128);
        const store = await startPlasmapoolStore(sock('memory'), memory);
        progress.advance(STARTUP);
        try {
          results.memory = await runMemory(store.socketPath, store.pid, options.memoryObjects, 64, (n) => progress.advance(n * 0.03));
        } finally {
          await store.stop();
        }
      });
      if (py) {
        for (const kind of ['reference', 'plasmapool'] as const) {
          await part(`memory per object, pyarrow → ${kind} (${options.memoryObjectsPyarrow.toLocaleString('en')} objects)`, async () => {
            const memory = Math.max(256e6, options.memoryObjectsPyarrow * 256);
            const socket = sock(`memory-${kind}`);
            const store = kind === 'reference' ? await startReferenceStore(python!.referenceStore, socket, memory) : await startPlasmapoolStore(socket, memory);
            progress.advance(STARTUP);
            try {
              await py!.request({ op: 'fill', socket, count: 100, size: 64 }); // settle
              await new Promise((resolve) => setTimeout(resolve, 300));
              const before = procMemory(store.pid);
              const out = await py!.request<{ seconds: number }>({ op: 'fill', socket, count: options.memoryObjectsPyarrow, size: 64 }, (n) =>
                progress.advance(n * 0.1),
              );
              await new Promise((resolve) => setTimeout(resolve, 300));
              const after = procMemory(store.pid);
              const n = options.memoryObjectsPyarrow;
              results.memoryComparison.push({
                store: kind,
                objects: n,
                objectSize: 64,
                seconds: out.seconds,
                before,
                after,
                rssBytesPerObject: ((after.vmRssKB - before.vmRssKB) * 1024) / n,
                anonBytesPerObject: ((after.rssAnonKB - before.rssAnonKB) * 1024) / n,
              });
            } finally {
              await store.stop();
            }
          });
        }
      }
    }
  } finally {
    progress.stop();
    await cleanupAll();
  }

  results.meta.seconds = (Date.now() - started) / 1000;
  notes.push(`Load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (other work on the machine shows up as noise, mostly in p99).`);
  if (options.warmup > 0) notes.push(`Every workload runs ${options.warmup} unrecorded warm-up repeat(s) first (first mapping of a segment, page tables, JIT): the figures are steady state.`);
  if (cores < 4) notes.push(`${cores} cores: every store, client and worker shares them, so concurrent parts compete for CPU.`);
  notes.push(
    'create+write+seal includes the client-side digest that Plasma clients compute at seal (XXH64; pyarrow hashes ≥ 1 MB with 8 threads; the TS client writes with ObjectBuffer.write, which hashes natively while it copies, on several threads).',
  );
  if (failures.length) skipped.push(...failures.map((f) => `FAILED ${f}`));
  const full: BenchResults = { ...results, targets: evaluateTargets(results) };
  const written = writeReport(options.outDir, full);

  process.stdout.write('\n' + markdown(full) + '\n');
  process.stdout.write('Targets:\n' + full.targets.map((t) => '  ' + targetLine(t)).join('\n') + '\n\n');
  process.stdout.write(`Wrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')} in ${Math.round(full.meta.seconds)} s.\n`);
  if (failures.length) {
    process.stderr.write(`\nbench: ${failures.length} part(s) failed:\n${failures.map((f) => '  ' + f).join('\n')}\n`);
    return 1;
  }
  return 0;
}
