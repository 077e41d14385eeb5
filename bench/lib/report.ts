/**
 * results.json → results.md (tables) and the SVG pictures: latency and bandwidth against object
 * size for every store and placement, Arrow tables, and scale.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OP_LABELS, seriesName, type BenchResults, type MatrixRow, type OpName, type SeriesKey } from './results.js';
import type { OpStats } from './stats.js';
import { chart, formatBytes, type ChartSeries, type Panel } from './svg-chart.js';
import { evaluateTargets, targetLine } from './targets.js';

function us(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (value >= 100_000) return `${(value / 1000).toFixed(0)} ms`;
  if (value >= 10_000) return `${(value / 1000).toFixed(1)} ms`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} ms`;
  if (value >= 100) return `${value.toFixed(0)} µs`;
  return `${value.toFixed(1)} µs`;
}

function gbs(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value) || value === 0) return '—';
  return value >= 0.1 ? value.toFixed(2) : value.toPrecision(2);
}

function ratio(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(2)}×`;
}

const sameSeries = (a: SeriesKey, b: SeriesKey) => a.client === b.client && a.store === b.store && a.placement === b.placement;

/** The series a row is compared with: pyarrow→plasmapool with pyarrow→reference; remote with local. */
function comparisonOf(key: SeriesKey): SeriesKey | null {
  if (key.store === 'plasmapool' && key.client === 'pyarrow' && key.placement === 'local') return { ...key, store: 'reference' };
  if (key.placement !== 'local') return { ...key, placement: 'local' };
  return null;
}

export function seriesOrder(matrix: MatrixRow[]): SeriesKey[] {
  const keys: SeriesKey[] = [];
  for (const r of matrix) if (!keys.some((k) => sameSeries(k, r))) keys.push({ client: r.client, store: r.store, placement: r.placement });
  const rank = (k: SeriesKey) => (k.client === 'pyarrow' ? 0 : 10) + (k.store === 'reference' ? 0 : 1) + { local: 0, shared: 3, copy: 6 }[k.placement];
  return keys.sort((a, b) => rank(a) - rank(b));
}

function cell(stats: OpStats | undefined): string {
  return stats ? `${us(stats.medianUs)} / ${us(stats.p99Us)}` : '—';
}

export function markdown(results: BenchResults): string {
  const { meta, baselines: b } = results;
  const mc = meta.machine;
  const lines: string[] = [];
  lines.push(`# plasmapool benchmarks: ${meta.mode} run`, '');
  lines.push(
    `${meta.startedAt}, ${Math.round(meta.seconds)} s. Machine: ${mc.cpu}, ${mc.cores} cores, ${mc.memoryGB} GB RAM, Linux ${mc.kernel}, Node ${mc.node}` +
      `${mc.pyarrow ? `, pyarrow ${mc.pyarrow} (numpy ${mc.numpy}, Python ${mc.python})` : ''}; commit ${mc.gitCommit ?? '?'}${mc.gitDirty ? ' (uncommitted changes)' : ''}; load average at start ${mc.loadAverage.join(' ')}.`,
    '',
  );
  for (const note of meta.notes) lines.push(`- ${note}`);
  if (meta.notes.length) lines.push('');
  if (results.skipped.length) lines.push(`Skipped: ${results.skipped.join('; ')}.`, '');

  lines.push('## The machine, measured in this run', '', '| figure | value |', '|---|---|');
  if (b.memcpyNode) lines.push(`| memcpy, Node \`Uint8Array.set\`, ${formatBytes(b.memcpyNode.bytes)} warm | ${gbs(b.memcpyNode.gbps)} GB/s (${us(b.memcpyNode.medianUs)}) |`);
  if (b.memcpyNumpy) lines.push(`| memcpy, numpy \`copyto\`, ${formatBytes(b.memcpyNumpy.bytes)} warm | ${gbs(b.memcpyNumpy.gbps)} GB/s (${us(b.memcpyNumpy.medianUs)}) |`);
  if (b.unixPingPong) lines.push(`| Unix socket round trip, ${b.unixPingPong.bytes} B, Node ↔ Node | median ${us(b.unixPingPong.medianUs)}, p99 ${us(b.unixPingPong.p99Us)} |`);
  if (b.grpcRoundTrip) lines.push(`| gRPC unary round trip (${b.grpcRoundTrip.call}) | median ${us(b.grpcRoundTrip.medianUs)}, p99 ${us(b.grpcRoundTrip.p99Us)} |`);
  lines.push('');

  lines.push('## Targets (goals, not assertions)', '', '```');
  for (const t of results.targets) lines.push(`${targetLine(t)}  [issue ${t.issue}]`);
  lines.push('```', '');

  if (results.matrix.length) {
    lines.push(
      '## Microbenchmarks (research Table 1)',
      '',
      'Per object: median / p99 latency; GB/s is the median over repeats of the bytes of a repeat over its time. ' +
        '"vs" compares median latencies with the series named in the last column (pyarrow → plasmapool with pyarrow → reference, remote with local): below 1 is faster. ' +
        '×memcpy divides bandwidth by the memcpy of the same language (Node for TS, numpy for pyarrow).',
      '',
      '| workload | series | create+write+seal | GB/s | ×memcpy | get | get+release | read | read GB/s | vs: c+w+s | vs: get | vs: read | compared with |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    const order = seriesOrder(results.matrix);
    const sizes = [...new Set(results.matrix.map((r) => r.size))].sort((a, c) => a - c);
    for (const size of sizes) {
      for (const key of order) {
        const r = results.matrix.find((x) => x.size === size && sameSeries(x, key));
        if (!r) continue;
        const cmpKey = comparisonOf(key);
        const cmp = cmpKey ? results.matrix.find((x) => x.size === size && sameSeries(x, cmpKey)) : undefined;
        const memcpy = key.client === 'ts' ? b.memcpyNode?.gbps : b.memcpyNumpy?.gbps;
        const vs = (op: OpName) => (cmp?.ops[op] && r.ops[op] ? ratio(r.ops[op]!.medianUs / cmp.ops[op]!.medianUs) : '—');
        lines.push(
          `| ${r.count} × ${formatBytes(r.size)} (${r.repeats}×) | ${seriesName(r)} | ${cell(r.ops.createWriteSeal)} | ${gbs(r.ops.createWriteSeal?.gbps)} | ` +
            `${memcpy && r.ops.createWriteSeal ? ratio(r.ops.createWriteSeal.gbps / memcpy) : '—'} | ${cell(r.ops.get)} | ${cell(r.ops.getRelease)} | ` +
            `${cell(r.ops.read)} | ${gbs(r.ops.read?.gbps)} | ${vs('createWriteSeal')} | ${vs('get')} | ${vs('read')} | ${cmp ? seriesName(cmp) : '—'} |`,
        );
      }
    }
    lines.push('');
  }

  if (results.tables.length) {
    lines.push(
      '## Arrow tables (TypeScript)',
      '',
      'One float64 column of the given size per table. putTable = measure + create + serialize into the object + seal; getTable = get + zero-copy `tableFromIPC`; ' +
        'read touches every value. Baselines without a store: `tableToIPC` + copy into a buffer, and `tableFromIPC` over that heap buffer. Latencies median / p99.',
      '',
      '| tables | placement | IPC bytes | putTable | put GB/s | ×memcpy | tableToIPC+copy | putTable speed-up | getTable | tableFromIPC (heap) | read GB/s |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of [...results.tables].sort((a, c) => a.size - c.size || (a.placement === 'local' ? -1 : 1))) {
      const put = r.ops.putTable;
      const base = r.ops.ipcCopy ?? results.tables.find((x) => x.size === r.size && x.ops.ipcCopy)?.ops.ipcCopy;
      const heap = r.ops.fromIpcHeap ?? results.tables.find((x) => x.size === r.size && x.ops.fromIpcHeap)?.ops.fromIpcHeap;
      lines.push(
        `| ${r.count} × ${formatBytes(r.size)} (${r.repeats}×) | ${r.placement === 'local' ? 'local' : 'remote, shared'} | ${r.objectBytes} | ${cell(put)} | ${gbs(put?.gbps)} | ` +
          `${put && b.memcpyNode ? ratio(put.gbps / b.memcpyNode.gbps) : '—'} | ${cell(base)} | ${put && base ? ratio(base.medianUs / put.medianUs) : '—'} | ` +
          `${cell(r.ops.getTable)} | ${cell(heap)} | ${gbs(r.ops.read?.gbps)} |`,
      );
    }
    lines.push('');
  }

  if (results.scale.length) {
    lines.push('## Scale: concurrent clients on one store', '', results.scaleDescription, '');
    lines.push('| clients | processes | put ops/s | put median / p99 | get+release ops/s | get median / p99 | errors |', '|---|---|---|---|---|---|---|');
    for (const s of results.scale) {
      const clients = s.idle ? `${s.clients} + ${s.idle.opened} idle` : `${s.clients}`;
      const errors = (s.put.errors ?? 0) + (s.get.errors ?? 0) + (s.idle?.errors ?? 0);
      lines.push(
        `| ${clients} | ${s.processes} | ${Math.round(s.put.opsPerSec)} | ${us(s.put.medianUs)} / ${us(s.put.p99Us)} | ${Math.round(s.get.opsPerSec)} | ${us(s.get.medianUs)} / ${us(s.get.p99Us)} | ${errors} |`,
      );
    }
    lines.push('');
  }

  if (results.memory) {
    const mem = results.memory;
    lines.push(
      '## Store memory per object',
      '',
      `${mem.objects.toLocaleString('en')} sealed objects of ${mem.objectSize} B (createAndSealBatch, 1000 per request) in a fresh store; RSS of the store process before → after.`,
      '',
      '| figure | before | after | per object |',
      '|---|---|---|---|',
      `| VmRSS | ${(mem.before.vmRssKB / 1024).toFixed(1)} MiB | ${(mem.after.vmRssKB / 1024).toFixed(1)} MiB | ${mem.rssBytesPerObject.toFixed(0)} B |`,
      `| RssAnon (store bookkeeping: JS heap, maps) | ${(mem.before.rssAnonKB / 1024).toFixed(1)} MiB | ${(mem.after.rssAnonKB / 1024).toFixed(1)} MiB | ${mem.anonBytesPerObject.toFixed(0)} B |`,
      `| RssShmem (region pages) | ${(mem.before.rssShmemKB / 1024).toFixed(1)} MiB | ${(mem.after.rssShmemKB / 1024).toFixed(1)} MiB | |`,
      '',
      `Creating them took ${mem.seconds.toFixed(1)} s (${Math.round(mem.objectsPerSec).toLocaleString('en')} objects/s).`,
      '',
    );
  }
  const comparison = results.memoryComparison ?? [];
  if (comparison.length) {
    const ref = comparison.find((c) => c.store === 'reference');
    lines.push(
      `Against the reference store: ${comparison[0]!.objects.toLocaleString('en')} objects of ${comparison[0]!.objectSize} B created one by one with pyarrow's \`create_and_seal\` in a fresh store of each kind.`,
      '',
      '| store | VmRSS per object | RssAnon per object | ×reference (RssAnon) | objects/s |',
      '|---|---|---|---|---|',
    );
    for (const c of comparison) {
      lines.push(
        `| ${c.store} | ${c.rssBytesPerObject.toFixed(0)} B | ${c.anonBytesPerObject.toFixed(0)} B | ${ref && ref.anonBytesPerObject > 0 ? ratio(c.anonBytesPerObject / ref.anonBytesPerObject) : '—'} | ${Math.round(c.objects / c.seconds).toLocaleString('en')} |`,
      );
    }
    lines.push('');
  }
  if (meta.parts?.length) {
    lines.push('## Time per part', '', meta.parts.map((p) => `${p.name}: ${p.seconds.toFixed(0)} s`).join('; ') + '.', '');
  }
  lines.push('Pictures: `latency.svg`, `bandwidth.svg`, `tables.svg`, `scale.svg` next to this file; raw summaries in `results.json`.', '');
  return lines.join('\n');
}

function matrixPanels(results: BenchResults, bandwidth: boolean): Panel[] {
  const order = seriesOrder(results.matrix);
  const ops: OpName[] = ['createWriteSeal', 'get', 'read'];
  return ops.map((op) => {
    const series: ChartSeries[] = order.map((key) => ({
      name: seriesName(key),
      dashed: key.store === 'reference',
      points: results.matrix
        .filter((r) => sameSeries(r, key) && r.ops[op])
        .map((r) => [r.size, bandwidth ? (op === 'get' ? r.size / (r.ops[op]!.medianUs * 1e3) : r.ops[op]!.gbps) : r.ops[op]!.medianUs] as [number, number]),
    }));
    const hlines = bandwidth && op !== 'get'
      ? [
          ...(results.baselines.memcpyNode ? [{ y: results.baselines.memcpyNode.gbps, label: 'memcpy (Node)' }] : []),
          ...(results.baselines.memcpyNumpy ? [{ y: results.baselines.memcpyNumpy.gbps, label: 'memcpy (numpy)' }] : []),
        ]
      : [];
    return {
      title: `${OP_LABELS[op]}${bandwidth && op === 'get' ? ' (size / latency)' : ''}`,
      yLabel: bandwidth ? 'GB/s (log)' : 'median µs per object (log)',
      logY: true,
      series,
      hlines,
    };
  });
}

function tablePanels(results: BenchResults): Panel[] {
  const placements = ['local', 'shared'] as const;
  const name = (p: string) => (p === 'local' ? 'local' : 'remote, shared');
  const pts = (p: string, f: (r: BenchResults['tables'][number]) => number | undefined) =>
    results.tables
      .filter((r) => r.placement === p)
      .map((r) => [r.size, f(r)] as [number, number | undefined])
      .filter((x): x is [number, number] => x[1] !== undefined);
  return [
    {
      title: 'putTable vs tableToIPC + copy',
      yLabel: 'median µs per table (log)',
      logY: true,
      series: [
        ...placements.map((p) => ({ name: `putTable (${name(p)})`, points: pts(p, (r) => r.ops.putTable?.medianUs) })),
        { name: 'tableToIPC + copy', dashed: true, points: pts('local', (r) => r.ops.ipcCopy?.medianUs) },
      ],
    },
    {
      title: 'getTable vs tableFromIPC (heap)',
      yLabel: 'median µs per table (log)',
      logY: true,
      series: [
        ...placements.map((p) => ({ name: `getTable (${name(p)})`, points: pts(p, (r) => r.ops.getTable?.medianUs) })),
        { name: 'tableFromIPC (heap)', dashed: true, points: pts('local', (r) => r.ops.fromIpcHeap?.medianUs) },
      ],
    },
    {
      title: 'put bandwidth',
      yLabel: 'GB/s (log)',
      logY: true,
      series: [
        ...placements.map((p) => ({ name: `putTable (${name(p)})`, points: pts(p, (r) => r.ops.putTable?.gbps) })),
        { name: 'tableToIPC + copy', dashed: true, points: pts('local', (r) => r.ops.ipcCopy?.gbps) },
      ],
      hlines: results.baselines.memcpyNode ? [{ y: results.baselines.memcpyNode.gbps, label: 'memcpy (Node)' }] : [],
    },
  ];
}

function scalePanels(results: BenchResults): Panel[] {
  // The level with idle connections repeats a client count: a table line, not a point.
  const pts = (f: (s: BenchResults['scale'][number]) => number) =>
    results.scale.filter((s) => !s.idle).map((s) => [s.clients, f(s)] as [number, number]);
  return [
    {
      title: 'throughput',
      yLabel: 'operations / s',
      logY: false,
      xLabel: 'concurrent clients (log)',
      xFormat: 'count',
      series: [
        { name: 'put (create+write+seal, 1 kB)', points: pts((s) => s.put.opsPerSec) },
        { name: 'get+release (1 kB)', points: pts((s) => s.get.opsPerSec) },
      ],
    },
    {
      title: 'latency per operation (median, p99 dashed)',
      yLabel: 'µs (log)',
      logY: true,
      xLabel: 'concurrent clients (log)',
      xFormat: 'count',
      series: [
        { name: 'put (create+write+seal, 1 kB)', points: pts((s) => s.put.medianUs) },
        { name: 'get+release (1 kB)', points: pts((s) => s.get.medianUs) },
        { name: 'put p99', group: 'put (create+write+seal, 1 kB)', dashed: true, points: pts((s) => s.put.p99Us) },
        { name: 'get+release p99', group: 'get+release (1 kB)', dashed: true, points: pts((s) => s.get.p99Us) },
      ],
    },
  ];
}

/** Write results.json, results.md and the pictures into `dir`; returns the paths written. */
export function writeReport(dir: string, results: BenchResults): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    written.push(file);
  };
  const machine = `${results.meta.machine.cores} cores, ${results.meta.machine.cpu}, ${results.meta.mode} run ${results.meta.startedAt.slice(0, 10)}`;
  write('results.json', JSON.stringify(results, null, 1) + '\n');
  write('results.md', markdown(results));
  if (results.matrix.length) {
    write('latency.svg', chart('plasmapool microbenchmarks: median latency per object', matrixPanels(results, false), machine));
    write('bandwidth.svg', chart('plasmapool microbenchmarks: bandwidth', matrixPanels(results, true), machine));
  }
  if (results.tables.length) write('tables.svg', chart('Arrow tables from TypeScript', tablePanels(results), machine));
  if (results.scale.length) write('scale.svg', chart('Concurrent clients on one store (1 kB objects)', scalePanels(results), machine));
  return written;
}

/** `--render DIR`: rewrite the Markdown and the pictures from DIR/results.json (targets re-evaluated). */
export function renderOnly(dir: string): number {
  const file = path.join(dir, 'results.json');
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist: run the benchmarks first (npm run bench)`);
  const results = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResults;
  results.targets = evaluateTargets(results);
  const written = writeReport(dir, results);
  process.stdout.write(`Rewrote ${written.map((f) => path.relative(process.cwd(), f)).join(', ')}\n`);
  return 0;
}
