/** The shape of results.json: one run, every figure and the machine it was measured on. */
import type { MachineInfo } from './machine.js';
import type { Mode, Workload } from './options.js';
import type { OpStats, RepeatSamples } from './stats.js';

export type Client = 'ts' | 'pyarrow';
export type StoreKind = 'plasmapool' | 'reference';
/** local: client on the owner store; shared / copy: client on another node of a local cluster. */
export type Placement = 'local' | 'shared' | 'copy';

export type OpName = 'createWriteSeal' | 'get' | 'read' | 'release' | 'getRelease';

export const OP_LABELS: Record<OpName, string> = {
  createWriteSeal: 'create+write+seal',
  get: 'get',
  read: 'read',
  release: 'release',
  getRelease: 'get+release',
};

export interface SeriesKey {
  client: Client;
  store: StoreKind;
  placement: Placement;
}

export function seriesName(key: SeriesKey): string {
  return `${key.client === 'ts' ? 'TS' : 'pyarrow'} → ${key.store}${key.placement === 'local' ? '' : ` (remote, ${key.placement})`}`;
}

/** Raw per-object samples of one workload, as the workloads (and the Python driver) produce them. */
export interface RawWorkload {
  count: number;
  size: number;
  repeats: number;
  samplesUs: Partial<Record<OpName, RepeatSamples>>;
}

export interface MatrixRow extends SeriesKey {
  count: number;
  size: number;
  repeats: number;
  ops: Partial<Record<OpName, OpStats>>;
}

export type TableOp = 'putTable' | 'getTable' | 'read' | 'ipcCopy' | 'fromIpcHeap';

export interface TableRow {
  placement: 'local' | 'shared';
  count: number;
  /** Bytes of column data per table. */
  size: number;
  /** Bytes of the IPC stream (the object's data). */
  objectBytes: number;
  repeats: number;
  ops: Partial<Record<TableOp, OpStats>>;
}

export interface ScaleRow {
  clients: number;
  processes: number;
  /** `errors`: operations that failed (a store refusing or dropping a client under load). */
  put: { opsPerSec: number; medianUs: number; p99Us: number; ops: number; errors?: number };
  get: { opsPerSec: number; medianUs: number; p99Us: number; ops: number; errors?: number };
  /** Idle connections held open (each checked with one round trip) while this level ran. */
  idle?: { opened: number; errors: number };
}

export interface MemoryResult {
  objects: number;
  objectSize: number;
  seconds: number;
  objectsPerSec: number;
  before: ProcMemory;
  after: ProcMemory;
  /** (VmRSS after − before) / objects. */
  rssBytesPerObject: number;
  /** (RssAnon after − before) / objects: the store's own bookkeeping (JS heap, maps). */
  anonBytesPerObject: number;
}

/** Memory per object of one store, objects created one by one with pyarrow's create_and_seal. */
/** One store's figures from bench/py/small_ops.py (pyarrow 11 client, both stores alternating). */
export interface SmallOpsFigures {
  cwsMedianUs: number;
  getReleaseMedianUs: number;
  cpuPerRequestUs: number;
  /** The same two figures in a full store, where creates evict (--evicting-count). */
  cwsEvictingMedianUs?: number | null;
  cpuPerRequestEvictingUs?: number | null;
  /** contains() of an id the store does not hold: median µs and store CPU per request (--contains-count). */
  containsMissMedianUs?: number | null;
  cpuPerContainsMissUs?: number | null;
  instructionsPerRequest: number | null;
  get100MBMedianUs: number | null;
}

export interface SmallOpsResult {
  reference: SmallOpsFigures;
  plasmapool: SmallOpsFigures;
  config: { rounds: number; count: number; size: number; largeSize: number; loadAverage: number[] };
}

export interface MemoryComparison {
  store: StoreKind;
  objects: number;
  objectSize: number;
  seconds: number;
  before: ProcMemory;
  after: ProcMemory;
  rssBytesPerObject: number;
  anonBytesPerObject: number;
}

export interface ProcMemory {
  vmRssKB: number;
  rssAnonKB: number;
  rssFileKB: number;
  rssShmemKB: number;
}

export interface Baselines {
  memcpyNode?: { bytes: number; medianUs: number; gbps: number; n: number };
  memcpyNumpy?: { bytes: number; medianUs: number; gbps: number; n: number };
  unixPingPong?: { bytes: number; medianUs: number; p99Us: number; n: number };
  grpcRoundTrip?: { call: string; medianUs: number; p99Us: number; n: number };
}

export interface Target {
  id: string;
  /** What is compared, in words. */
  title: string;
  /** The measured figures, in words. */
  measured: string;
  ratio: number | null;
  /** e.g. "≤ 1.00". */
  goal: string;
  pass: boolean | null;
  /** Whose target: issue 6 (benchmarks), 4 (Arrow) or 5 (cluster). */
  issue: number;
}

export interface BenchResults {
  meta: {
    mode: Mode;
    startedAt: string;
    seconds: number;
    machine: MachineInfo;
    workloads: Workload[];
    remoteWorkloads: Workload[];
    pyarrowRemoteWorkloads: Workload[];
    tableWorkloads: Workload[];
    notes: string[];
    /** Wall time of each part of the run, in order. */
    parts: { name: string; seconds: number }[];
  };
  baselines: Baselines;
  matrix: MatrixRow[];
  tables: TableRow[];
  scale: ScaleRow[];
  scaleDescription: string;
  memory: MemoryResult | null;
  memoryComparison: MemoryComparison[];
  /** Issue 10's small-object figures (bench/py/small_ops.py), when the pyarrow section ran. */
  smallOps?: SmallOpsResult;
  targets: Target[];
  skipped: string[];
}
