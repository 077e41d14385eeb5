/**
 * The benchmark's one options object: parsed once from the command line (bench/run.ts, and
 * `plasmapool bench`, which passes its flags through), validated here, read everywhere else.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The sections of a run, in the order they run. */
export const SECTIONS = ['baselines', 'pyarrow', 'matrix', 'tables', 'scale', 'memory'] as const;
export type Section = (typeof SECTIONS)[number];

export type Mode = 'quick' | 'full';

/** One line of the research's Table 1: `count` objects of `size` bytes, repeated `repeats` times. */
export interface Workload {
  count: number;
  size: number;
  repeats: number;
}

/** Table 1 of the research: object count and size (decimal units: 1 kB = 1000 bytes). */
export const TABLE_1: readonly { count: number; size: number }[] = [
  { count: 1000, size: 1e3 },
  { count: 500, size: 1e4 },
  { count: 200, size: 1e5 },
  { count: 100, size: 1e6 },
  { count: 50, size: 1e7 },
  { count: 10, size: 1e8 },
];

export interface BenchOptions {
  mode: Mode;
  /** Where results.json, results.md and the SVGs go. */
  outDir: string;
  sections: Set<Section>;
  /** Microbenchmark workloads with their repeat counts (local placement: pyarrow and TS). */
  workloads: Workload[];
  /** The same workloads for the remote placements (shared, copy): fewer repeats. */
  remoteWorkloads: Workload[];
  /** The pyarrow client on a remote node (full runs only): fewer still. */
  pyarrowRemoteWorkloads: Workload[];
  /** Unrecorded warm-up repeats before each workload's recorded ones. */
  warmup: number;
  /** Arrow table workloads (same sizes, fewer repeats). */
  tableWorkloads: Workload[];
  /** Concurrent client counts of the scale section. */
  scaleClients: number[];
  /** Seconds of each scale measurement (per phase and client count). */
  scaleSeconds: number;
  /** Idle connections held open during one more 8-client level (issue 10: 1,000 open connections). */
  scaleIdleConnections: number;
  /** Objects created for the memory-per-object figure (TypeScript, createAndSealBatch). */
  memoryObjects: number;
  /** Objects created one by one with pyarrow in the reference store and in plasmapool (the comparison). */
  memoryObjectsPyarrow: number;
  /** Capacity of every store the harness starts, bytes. */
  storeMemory: number;
  /** Size of the memcpy measurement, bytes. */
  memcpyBytes: number;
  /** The venv's python (pyarrow 11 and the reference store); null skips the pyarrow parts. */
  python: string | null;
  /** Also run the pyarrow client against a remote node of the shared cluster. */
  pyarrowRemote: boolean;
  /** Draw a progress bar (a TTY) or print a progress line now and then (CI logs). */
  tty: boolean;
  /** Only re-render results.md and the pictures from this directory's results.json. */
  render: string | null;
}

const USAGE = `usage: npm run bench -- [--quick] [options]

  --quick               about a minute: 1-2 repeats, 10 MB and 100 MB workloads shrunk to 10 and
                        2 objects, short scale phases, 100k objects for memory (CI smoke check)
  --out DIR             where results go (default bench/results/full or bench/results/quick)
  --only LIST           comma-separated sections: ${SECTIONS.join(',')}
  --skip LIST           sections to leave out
  --repeats N           repeats of every microbenchmark workload, local and remote (overrides the
                        mode's policy)
  --scale-seconds S     seconds per scale measurement
  --memory-objects N    objects for the memory-per-object figure
  --no-python           skip everything that needs the Python venv (pyarrow, reference store)
  --render DIR          measure nothing: rewrite DIR/results.md and the pictures from DIR/results.json
  --help                this text

Timings are figures, never assertions: the run fails only when the harness itself breaks.`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The repeat policy: `max` repeats, but no workload creates more than `budget` bytes (floor `min`). */
function withRepeats(max: number, min: number, budget: number): Workload[] {
  return TABLE_1.map((w) => ({ ...w, repeats: Math.min(max, Math.max(min, Math.floor(budget / (w.count * w.size)))) }));
}

export function parseBenchArgs(argv: string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        quick: { type: 'boolean', default: false },
        out: { type: 'string' },
        only: { type: 'string' },
        skip: { type: 'string' },
        repeats: { type: 'string' },
        'scale-seconds': { type: 'string' },
        'memory-objects': { type: 'string' },
        'no-python': { type: 'boolean', default: false },
        render: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${USAGE}`);
  }
  if (parsed.help) throw new UsageError(USAGE);
  const mode: Mode = parsed.quick ? 'quick' : 'full';

  const sectionList = (text: string, flag: string): Section[] =>
    text.split(',').map((name) => {
      const section = name.trim() as Section;
      if (!SECTIONS.includes(section)) throw new UsageError(`--${flag}: unknown section "${name}"; the sections are ${SECTIONS.join(', ')}`);
      return section;
    });
  const sections = new Set<Section>(parsed.only ? sectionList(parsed.only, 'only') : SECTIONS);
  if (parsed.skip) for (const section of sectionList(parsed.skip, 'skip')) sections.delete(section);

  const positive = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${flag} must be a positive number, got "${text}"`);
    return value;
  };

  // Full: 100 repeats, capped at 10 GB of objects per workload (so 10 MB gets 20, 100 MB gets 10);
  // remote placements 20 repeats capped at 3 GB (a remote get of a small object costs a round
  // trip between stores, and the copy transport moves every byte between them); the pyarrow
  // client on a remote node 10 repeats capped at 2 GB. Together about a quarter of an hour on a
  // busy 2-core machine. Quick: a smoke run of about a minute.
  let workloads: Workload[];
  let remoteWorkloads: Workload[];
  let pyarrowRemoteWorkloads: Workload[];
  let tableWorkloads: Workload[];
  if (mode === 'full') {
    workloads = withRepeats(100, 10, 10e9);
    remoteWorkloads = withRepeats(20, 3, 3e9);
    pyarrowRemoteWorkloads = withRepeats(10, 2, 2e9);
    tableWorkloads = TABLE_1.map((w) => ({ count: Math.min(w.count, 100), size: w.size, repeats: Math.min(20, Math.max(5, Math.floor(2e9 / (Math.min(w.count, 100) * w.size)))) }));
  } else {
    workloads = withRepeats(2, 1, 20e6).map((w) => (w.size >= 1e8 ? { ...w, count: 2 } : w.size >= 1e7 ? { ...w, count: 10 } : w));
    remoteWorkloads = workloads;
    pyarrowRemoteWorkloads = workloads;
    tableWorkloads = TABLE_1.map((w) => ({ count: Math.min(w.count, w.size >= 1e8 ? 2 : w.size >= 1e7 ? 5 : 20), size: w.size, repeats: 1 }));
  }
  const repeats = positive(parsed.repeats, 'repeats');
  if (repeats !== undefined) {
    workloads = workloads.map((w) => ({ ...w, repeats: Math.round(repeats) }));
    remoteWorkloads = remoteWorkloads.map((w) => ({ ...w, repeats: Math.round(repeats) }));
    pyarrowRemoteWorkloads = pyarrowRemoteWorkloads.map((w) => ({ ...w, repeats: Math.round(repeats) }));
  }

  const python = parsed['no-python'] ? null : path.join(REPO_ROOT, '.venv/bin/python');
  return {
    mode,
    outDir: path.resolve(parsed.out ?? path.join(REPO_ROOT, 'bench/results', mode)),
    sections,
    warmup: mode === 'full' ? 1 : 0,
    workloads,
    remoteWorkloads,
    pyarrowRemoteWorkloads,
    tableWorkloads,
    scaleClients: [1, 2, 4, 8, 16, 64, 256],
    scaleIdleConnections: 1000,
    scaleSeconds: positive(parsed['scale-seconds'], 'scale-seconds') ?? (mode === 'full' ? 3 : 0.3),
    memoryObjects: Math.round(positive(parsed['memory-objects'], 'memory-objects') ?? (mode === 'full' ? 1_000_000 : 100_000)),
    // Issue 10 compares the stores' memory per object at 1 million objects.
    memoryObjectsPyarrow: mode === 'full' ? 1_000_000 : 10_000,
    storeMemory: mode === 'full' ? 1.5e9 : 600e6,
    memcpyBytes: 1e8,
    python,
    pyarrowRemote: mode === 'full',
    tty: Boolean(process.stderr.isTTY),
    render: parsed.render ? path.resolve(parsed.render) : null,
  };
}
