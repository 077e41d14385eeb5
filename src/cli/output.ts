/**
 * How inspection commands print: aligned tables with units for people, one JSON document with
 * `--json` for scripts (raw numbers: bytes, Unix seconds).
 */
import { formatSize } from '../util/size.js';

export interface Column<Row> {
  header: string;
  value(row: Row): string;
  /** Numbers read best right-aligned. */
  right?: boolean;
}

export function renderTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  const cells = rows.map((row) => columns.map((column) => column.value(row)));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => (columns[i]!.right ? value.padStart(widths[i]!) : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

export function writeJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** "1.5 MiB (1572864 B)" for exact figures in key/value listings. */
export function bytesWithExact(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${formatSize(bytes)} (${bytes} B)`;
}

/** 75 → "1m15s". */
export function formatAge(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(seconds / 86400)}d${String(Math.floor((seconds % 86400) / 3600)).padStart(2, '0')}h`;
}
