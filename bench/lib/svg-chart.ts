/**
 * Small SVG line charts with a logarithmic x axis (object size) and a linear or logarithmic y
 * axis, laid out as panels side by side. No plotting library: a few hundred bytes of markup per
 * line, readable in any browser and on GitHub.
 */

export interface ChartSeries {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  /** Series with the same group share a colour (e.g. a median and its p99). */
  group?: string;
}

export interface Panel {
  title: string;
  yLabel: string;
  logY: boolean;
  series: ChartSeries[];
  /** Horizontal reference lines (e.g. memcpy bandwidth). */
  hlines?: { y: number; label: string }[];
  /** x axis: object size in bytes (default) or a plain count. */
  xLabel?: string;
  xFormat?: 'bytes' | 'count';
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];

const W = 420;
const H = 300;
const M = { left: 62, right: 30, top: 30, bottom: 44 };

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${+(bytes / 1e9).toPrecision(3)} GB`;
  if (bytes >= 1e6) return `${+(bytes / 1e6).toPrecision(3)} MB`;
  if (bytes >= 1e3) return `${+(bytes / 1e3).toPrecision(3)} kB`;
  return `${bytes} B`;
}

function formatTick(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-3) return value.toExponential(0);
  if (abs >= 1000) return `${+(value / 1000).toPrecision(3)}k`;
  return `${+value.toPrecision(3)}`;
}

/** Decades covering [min, max]. */
function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) out.push(10 ** e);
  return out;
}

function linearTicks(max: number): number[] {
  const step = 10 ** Math.floor(Math.log10(max / 4 || 1));
  const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => max / s <= 6) ?? step * 10;
  const out: number[] = [];
  for (let v = 0; v <= max * 1.0001 + nice; v += nice) {
    out.push(v);
    if (v >= max) break;
  }
  return out;
}

function panelSvg(panel: Panel, colorOf: (series: ChartSeries) => string): string {
  const all = panel.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && Number.isFinite(y) && (!panel.logY || y > 0));
  const hl = (panel.hlines ?? []).map((h) => h.y).filter((y) => Number.isFinite(y) && y > 0);
  if (all.length === 0) return `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" font-size="12">${esc(panel.title)}: no data</text>`;
  const xs = all.map((p) => p[0]);
  const ys = [...all.map((p) => p[1]), ...hl];
  const xTicks = panel.xFormat === 'count' ? [...new Set(xs)].sort((a, b) => a - b) : logTicks(Math.min(...xs), Math.max(...xs));
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  let yTicks: number[];
  let yMin: number;
  let yMax: number;
  if (panel.logY) {
    yTicks = logTicks(Math.min(...ys), Math.max(...ys));
    yMin = yTicks[0]!;
    yMax = yTicks[yTicks.length - 1]!;
    if (yMax === yMin) yMax = yMin * 10;
  } else {
    yTicks = linearTicks(Math.max(...ys));
    yMin = 0;
    yMax = yTicks[yTicks.length - 1]!;
  }
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const lx = (x: number) => M.left + (xMax === xMin ? pw / 2 : ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * pw);
  const ly = (y: number) =>
    M.top + ph - (panel.logY ? ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * ph : ((y - yMin) / (yMax - yMin)) * ph);
  const parts: string[] = [];
  parts.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="13" font-weight="bold">${esc(panel.title)}</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (const t of yTicks) {
    const y = ly(t).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    parts.push(`<text x="${M.left - 5}" y="${y}" text-anchor="end" dominant-baseline="middle" font-size="10">${formatTick(t)}</text>`);
  }
  for (const t of xTicks.filter((t) => t >= xMin * 0.999 && t <= xMax * 1.001)) {
    const x = lx(t).toFixed(1);
    parts.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${M.top + ph}" stroke="#eee"/>`);
    const label = panel.xFormat === 'count' ? formatTick(t) : formatBytes(t);
    parts.push(`<text x="${x}" y="${M.top + ph + 14}" text-anchor="middle" font-size="10">${label}</text>`);
  }
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle" font-size="11">${esc(panel.xLabel ?? 'object size (log)')}</text>`);
  parts.push(
    `<text x="14" y="${M.top + ph / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 14 ${M.top + ph / 2})">${esc(panel.yLabel)}</text>`,
  );
  (panel.hlines ?? []).forEach((h, i) => {
    if (!(h.y > 0) || h.y < yMin || h.y > yMax) return;
    const y = ly(h.y).toFixed(1);
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${y}" y2="${y}" stroke="#555" stroke-dasharray="2 3"/>`);
    // Alternate the labels left / right (and above / below) so that close lines stay readable.
    const x = i % 2 === 0 ? M.left + 4 : M.left + pw - 4;
    const dy = i % 2 === 0 ? -4 : 11;
    parts.push(`<text x="${x}" y="${Number(y) + dy}" font-size="10" fill="#555"${i % 2 === 0 ? '' : ' text-anchor="end"'}>${esc(h.label)}</text>`);
  });
  for (const s of panel.series) {
    const pts = s.points.filter(([x, y]) => x > 0 && Number.isFinite(y) && (!panel.logY || y > 0)).sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) continue;
    const color = colorOf(s);
    const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${lx(x).toFixed(1)},${ly(y).toFixed(1)}`).join(' ');
    parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    for (const [x, y] of pts) parts.push(`<circle cx="${lx(x).toFixed(1)}" cy="${ly(y).toFixed(1)}" r="2.5" fill="${color}"/>`);
  }
  return parts.join('\n');
}

/** Panels side by side with one shared legend underneath. */
export function chart(title: string, panels: Panel[], subtitle = ''): string {
  const all = panels.flatMap((p) => p.series);
  const names = [...new Set(all.map((s) => s.name))];
  const groups = [...new Set(all.map((s) => s.group ?? s.name))];
  const colorOf = (s: ChartSeries) => PALETTE[groups.indexOf(s.group ?? s.name) % PALETTE.length]!;
  const byName = new Map(all.map((s) => [s.name, s]));
  const dashed = new Set(all.filter((s) => s.dashed).map((s) => s.name));
  const columns = Math.min(3, panels.length);
  const rows = Math.ceil(panels.length / columns);
  const top = 44;
  const legendRows = Math.ceil(names.length / 3);
  const width = columns * W;
  const height = top + rows * H + 16 + legendRows * 18 + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${width / 2}" y="36" text-anchor="middle" font-size="11" fill="#555">${esc(subtitle)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const x = (i % columns) * W;
    const y = top + Math.floor(i / columns) * H;
    out.push(`<g transform="translate(${x},${y})">`, panelSvg(panel, colorOf), '</g>');
  });
  const legendTop = top + rows * H + 16;
  names.forEach((name, i) => {
    const x = 20 + (i % 3) * (width / 3);
    const y = legendTop + Math.floor(i / 3) * 18;
    out.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${colorOf(byName.get(name)!)}" stroke-width="2.5"${dashed.has(name) ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${x + 30}" y="${y}" dominant-baseline="middle" font-size="11">${esc(name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
