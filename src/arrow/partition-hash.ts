/**
 * Row hashes over Arrow columns, computed on the typed arrays (no row objects). The hash depends
 * only on a row's logical key values, never on chunking or encoding: a utf8 value hashes the same
 * whether it sits in a plain, large or dictionary-encoded column, so mappers whose inputs differ
 * in layout still send equal keys to the same partition.
 */
import { DataType, type Data, type Vector } from 'apache-arrow';

/** The hash of a null key value (any fixed constant works; this one is 2^32 / φ). */
const NULL_HASH = 0x9e3779b9;

/** murmur3's finalizer: spreads every input bit over the whole word. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Mix one 32-bit word into a running hash (murmur3's body step). */
function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Byte-string hash (FNV-1a over the bytes, then the murmur finalizer). */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return fmix32(h ^ (end - start));
}

/** Column types a shuffle can partition by. */
export function isHashableKeyType(type: DataType): boolean {
  if (DataType.isDictionary(type)) return isHashableKeyType(type.dictionary);
  return (
    DataType.isInt(type) ||
    DataType.isFloat(type) ||
    DataType.isBool(type) ||
    DataType.isDate(type) ||
    DataType.isTime(type) ||
    DataType.isTimestamp(type) ||
    DataType.isDuration(type) ||
    DataType.isDecimal(type) ||
    DataType.isFixedSizeBinary(type) ||
    DataType.isUtf8(type) ||
    DataType.isLargeUtf8(type) ||
    DataType.isBinary(type) ||
    DataType.isLargeBinary(type)
  );
}

function isValid(data: Data, bitmap: Uint8Array | null | undefined, row: number): boolean {
  if (!bitmap || data.nullCount === 0) return true;
  const bit = data.offset + row;
  return (bitmap[bit >> 3]! & (1 << (bit & 7))) !== 0;
}

/** Reads offset `i` of a 64-bit offsets array through its 32-bit words (no BigInt per row). */
function largeOffsetReader(offsets: BigInt64Array): (i: number) => number {
  const words = new Int32Array(offsets.buffer, offsets.byteOffset, offsets.length * 2);
  return (i) => (words[2 * i]! >>> 0) + words[2 * i + 1]! * 4294967296;
}

/**
 * Write the hash of every row of `data` (one chunk) into `out[at .. at + data.length)`.
 * Nulls hash to a constant. Throws a TypeError for types that cannot be keys.
 */
export function hashData(data: Data, out: Uint32Array, at: number): void {
  const type = data.type;
  const n = data.length;
  const bitmap = data.nullBitmap;
  const hasNulls = data.nullCount > 0 && bitmap != null && bitmap.byteLength > 0;

  if (DataType.isDictionary(type)) {
    // Hash each dictionary value once, then map the indices through that table.
    const dictionaryHashes = dictionaryHashesOf(data.dictionary!);
    const indices = data.values as unknown as ArrayLike<number | bigint>;
    for (let i = 0; i < n; i++) {
      out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : dictionaryHashes[Number(indices[i]!)]!;
    }
    return;
  }

  if (DataType.isUtf8(type) || DataType.isBinary(type) || DataType.isLargeUtf8(type) || DataType.isLargeBinary(type)) {
    const bytes = data.values as Uint8Array;
    const offsets = data.valueOffsets as unknown as Int32Array | BigInt64Array;
    if (offsets instanceof Int32Array) {
      for (let i = 0; i < n; i++) {
        out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : hashBytes(bytes, offsets[i]!, offsets[i + 1]!);
      }
      return;
    }
    // 64-bit offsets: read their low words when every offset fits in 31 bits (no BigInt per row).
    const words = new Int32Array(offsets.buffer, offsets.byteOffset, offsets.length * 2);
    if (words[2 * n + 1] === 0 && words[2 * n]! >= 0) {
      for (let i = 0; i < n; i++) {
        out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : hashBytes(bytes, words[2 * i]!, words[2 * i + 2]!);
      }
      return;
    }
    const offset = largeOffsetReader(offsets);
    for (let i = 0; i < n; i++) {
      out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : hashBytes(bytes, offset(i), offset(i + 1));
    }
    return;
  }

  if (DataType.isBool(type)) {
    const bits = data.values as Uint8Array;
    const h0 = fmix32(mixWord(0, 0));
    const h1 = fmix32(mixWord(0, 1));
    for (let i = 0; i < n; i++) {
      if (hasNulls && !isValid(data, bitmap, i)) out[at + i] = NULL_HASH;
      else {
        const bit = data.offset + i;
        out[at + i] = (bits[bit >> 3]! & (1 << (bit & 7))) !== 0 ? h1 : h0;
      }
    }
    return;
  }

  if (DataType.isFloat(type)) {
    // Equal numbers hash equally: -0 is 0, every NaN is the same NaN.
    const values = data.values as Float32Array | Float64Array | Uint16Array;
    if (values instanceof Uint16Array) {
      // Half floats: hash the raw 16 bits (normalising ±0).
      for (let i = 0; i < n; i++) {
        const v = values[i]! === 0x8000 ? 0 : values[i]!;
        out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : fmix32(mixWord(0, v));
      }
      return;
    }
    const scratch = new Float64Array(1);
    const words = new Int32Array(scratch.buffer);
    for (let i = 0; i < n; i++) {
      if (hasNulls && !isValid(data, bitmap, i)) {
        out[at + i] = NULL_HASH;
        continue;
      }
      const v = values[i]!;
      scratch[0] = v === 0 ? 0 : Number.isNaN(v) ? NaN : v;
      out[at + i] = fmix32(mixWord(mixWord(0, words[0]!), words[1]!));
    }
    return;
  }

  if (isFixedWidth(type)) {
    // Integers, dates, times, timestamps, durations, decimals, fixed-size binary: hash the
    // row's bytes as 32-bit words (narrower integers as one word holding the value).
    const values = data.values as unknown as ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number };
    const rowBytes = values.BYTES_PER_ELEMENT * data.stride;
    if (rowBytes < 4) {
      const narrow = values as unknown as ArrayLike<number>;
      for (let i = 0; i < n; i++) out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : fmix32(mixWord(0, narrow[i]!));
      return;
    }
    if (rowBytes % 4 === 0 && values.byteOffset % 4 === 0) {
      const w = rowBytes / 4;
      const words = new Int32Array(values.buffer, values.byteOffset, n * w);
      if (w === 2) {
        for (let i = 0; i < n; i++) {
          out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : fmix32(mixWord(mixWord(0, words[2 * i]!), words[2 * i + 1]!));
        }
        return;
      }
      for (let i = 0; i < n; i++) {
        if (hasNulls && !isValid(data, bitmap, i)) {
          out[at + i] = NULL_HASH;
          continue;
        }
        let h = 0;
        for (let j = i * w, end = j + w; j < end; j++) h = mixWord(h, words[j]!);
        out[at + i] = fmix32(h);
      }
      return;
    }
    const bytes = new Uint8Array(values.buffer, values.byteOffset, n * rowBytes);
    for (let i = 0; i < n; i++) {
      out[at + i] = hasNulls && !isValid(data, bitmap, i) ? NULL_HASH : hashBytes(bytes, i * rowBytes, (i + 1) * rowBytes);
    }
    return;
  }

  throw new TypeError(
    `cannot partition by a column of type ${String(type)}: key columns must be integers, floats, booleans, ` +
      `dates, times, timestamps, decimals, strings, binary or dictionaries of those`,
  );
}

/** Types stored as fixed-width values in one buffer (no offsets, no children). */
export function isFixedWidth(type: DataType): boolean {
  return (
    DataType.isInt(type) ||
    DataType.isDate(type) ||
    DataType.isTime(type) ||
    DataType.isTimestamp(type) ||
    DataType.isDuration(type) ||
    DataType.isDecimal(type) ||
    DataType.isFixedSizeBinary(type) ||
    DataType.isInterval(type)
  );
}

/** Dictionaries are usually shared by many chunks: hash each one once. */
const dictionaryHashCache = new WeakMap<Vector, Uint32Array>();

function dictionaryHashesOf(dictionary: Vector): Uint32Array {
  let hashes = dictionaryHashCache.get(dictionary);
  if (!hashes || hashes.length !== dictionary.length) {
    hashes = hashVector(dictionary);
    dictionaryHashCache.set(dictionary, hashes);
  }
  return hashes;
}

/** Hash every value of a vector (all its chunks, in order). */
export function hashVector(vector: Vector): Uint32Array {
  const out = new Uint32Array(vector.length);
  let at = 0;
  for (const data of vector.data) {
    hashData(data, out, at);
    at += data.length;
  }
  return out;
}

/**
 * Combine the hashes of several key columns for `n` rows into `into` (which holds the running
 * combination; start from zeros). Column order matters, as it does for a composite key.
 */
export function combineHashes(into: Uint32Array, columnHashes: Uint32Array): void {
  for (let i = 0; i < into.length; i++) into[i] = fmix32(mixWord(into[i]!, columnHashes[i]!));
}
