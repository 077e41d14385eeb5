/**
 * Byte sizes for humans: `4GiB`, `512MB`, `1.5G`, or a plain integer (what plasma_store's -m takes).
 * Decimal units (kB, MB, GB, TB) are powers of 1000; binary units (KiB…TiB) and bare letters
 * (K, M, G, T) are powers of 1024, as in `ulimit` and most Unix tools.
 */
import { InvalidOptionError } from '../errors.js';

const units: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/** Parse a size; throws an Error naming the accepted forms. */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) throw new InvalidOptionError(`invalid size ${text}: expected a whole number of bytes`);
    return text;
  }
  const match = /^\s*(\d+(?:\.\d+)?)(?:e(\d+))?\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match ? units[match[3]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new InvalidOptionError(`invalid size "${text}": use bytes (100000000) or a unit such as 512MB, 4GiB, 1G`);
  }
  if (match[3] === '' && match[1]!.includes('.') && match[2] === undefined) {
    throw new InvalidOptionError(`invalid size "${text}": a plain byte count is a whole number (or use a unit: 1.5GiB)`);
  }
  const value = Number(match[1]) * 10 ** Number(match[2] ?? 0) * unit;
  if (!Number.isFinite(value) || value > Number.MAX_SAFE_INTEGER) throw new InvalidOptionError(`size "${text}" is too large`);
  return Math.floor(value);
}

/** 1536 → "1.5 KiB". */
export function formatSize(bytes: number): string {
  const names = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let index = 0;
  while (value >= 1024 && index < names.length - 1) {
    value /= 1024;
    index++;
  }
  return `${index === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${names[index]}`;
}
