/**
 * Presenting shuffle runs: a text table of phase times, a comparison of exchanges, and an SVG bar
 * chart (no dependencies: a string the notebook displays and the benchmark writes to a file).
 */
import type { ShufflePhase, ShuffleRunResult } from './shuffle-runner.js';

/** The phases that make up the shuffle proper (placing inputs and starting processes are set-up). */
export const SHUFFLE_PHASES: readonly ShufflePhase[] = ['map', 'reduce'];
export const ALL_PHASES: readonly ShufflePhase[] = ['place', 'spawn', 'map', 'reduce', 'verify', 'cleanup'];

export function formatMs(ms: number): string {
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/** Map + reduce time: the exchange itself, from the first mapper starting to the last reducer done. */
export function shuffleMs(result: ShuffleRunResult): number {
  return result.phases.map + result.phases.reduce;
}

/**
 * The exchange alone, on the critical path: the slowest mapper's publish (zero-copy: put into
 * shared memory; copy: serialize, send, wait for the reducer's receipt) plus the slowest
 * reducer's gather (zero-copy: get and open the objects; copy: open the received bytes).
 * Partitioning and the reducers' computation are the same work in both exchanges.
 */
export function exchangeMs(result: ShuffleRunResult): number {
  const publish = Math.max(0, ...result.mapperReports.map((r) => r.timings.publishMs));
  const gather = Math.max(0, ...result.reducerReports.map((r) => r.timings.gatherMs));
  return publish + gather;
}

/** A fixed-width text table: one row per phase, one column per run. */
export function phaseTable(results: readonly ShuffleRunResult[], phases: readonly ShufflePhase[] = ALL_PHASES): string {
  const header = ['phase', ...results.map((r) => r.exchange)];
  const rows = phases.map((phase) => [phase, ...results.map((r) => formatMs(r.phases[phase]))]);
  rows.push(['map+reduce', ...results.map((r) => formatMs(shuffleMs(r)))]);
  rows.push(['exchange only', ...results.map((r) => formatMs(exchangeMs(r)))]);
  const widths = header.map((_, c) => Math.max(...[header, ...rows].map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** Where the time of a run went inside the workers (slowest worker per step). */
export function workerBreakdown(result: ShuffleRunResult): Record<string, number> {
  const max = (values: number[]) => (values.length ? Math.max(...values) : 0);
  const m = result.mapperReports.map((r) => r.timings);
  const r = result.reducerReports.map((x) => x.timings);
  return {
    'mapper: read input': max(m.map((t) => t.readMs)),
    'mapper: partition': max(m.map((t) => t.partitionMs)),
    'mapper: publish': max(m.map((t) => t.publishMs)),
    'reducer: gather': max(r.map((t) => t.gatherMs)),
    'reducer: compute': max(r.map((t) => t.computeMs)),
    'reducer: check': max(r.map((t) => t.checkMs)),
  };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

export interface BarChartSeries {
  name: string;
  color: string;
  /** One value per category. */
  values: number[];
}

/** A grouped horizontal bar chart as an SVG string. */
export function barChartSvg(options: { title: string; unit: string; categories: string[]; series: BarChartSeries[]; width?: number }): string {
  const width = options.width ?? 720;
  const labelWidth = 150;
  const barHeight = 16;
  const gap = 10;
  const top = 46;
  const groupHeight = options.series.length * barHeight + gap;
  const height = top + options.categories.length * groupHeight + 30;
  const max = Math.max(1e-9, ...options.series.flatMap((s) => s.values));
  const scale = (width - labelWidth - 90) / max;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  options.series.forEach((s, i) => {
    const x = labelWidth + i * 150;
    parts.push(`<rect x="${x}" y="30" width="12" height="12" fill="${s.color}"/>`, `<text x="${x + 18}" y="40">${escapeXml(s.name)}</text>`);
  });
  options.categories.forEach((category, c) => {
    const y0 = top + c * groupHeight;
    parts.push(`<text x="${labelWidth - 8}" y="${y0 + (options.series.length * barHeight) / 2 + 4}" text-anchor="end">${escapeXml(category)}</text>`);
    options.series.forEach((s, i) => {
      const value = s.values[c] ?? 0;
      const y = y0 + i * barHeight;
      const w = Math.max(1, value * scale);
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight - 3}" fill="${s.color}"/>`,
        `<text x="${(labelWidth + w + 5).toFixed(1)}" y="${y + barHeight - 5}" font-size="11">${escapeXml(formatValue(value, options.unit))}</text>`,
      );
    });
  });
  parts.push(`<line x1="${labelWidth}" y1="${top - 4}" x2="${labelWidth}" y2="${height - 24}" stroke="#444"/>`, '</svg>');
  return parts.join('\n');
}

function formatValue(value: number, unit: string): string {
  return unit === 'ms' ? formatMs(value) : `${value.toFixed(value >= 10 ? 0 : 2)} ${unit}`;
}

/** Per-phase times of several runs (e.g. zero-copy against copy) as an SVG chart. */
export function phaseChartSvg(results: readonly ShuffleRunResult[], title: string, phases: readonly ShufflePhase[] = ['map', 'reduce']): string {
  const colors = ['#2b7bba', '#e8743b', '#19a979', '#945ecf'];
  return barChartSvg({
    title,
    unit: 'ms',
    categories: [...phases, 'map+reduce', 'exchange only'],
    series: results.map((r, i) => ({
      name: r.exchange,
      color: colors[i % colors.length]!,
      values: [...phases.map((p) => r.phases[p]), shuffleMs(r), exchangeMs(r)],
    })),
  });
}
