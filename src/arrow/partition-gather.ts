/**
 * Gather ("take") rows of a chunked Arrow column into one new contiguous column, working on the
 * typed arrays: fixed-width values are copied as 32-bit words, strings as byte ranges with fresh
 * offsets, dictionaries by their indices (the dictionary itself is shared, not copied), structs by
 * their children. Row indices are sorted (counting sort keeps them so), which lets each column
 * walk its chunks once.
 */
import { DataType, Vector, makeBuilder, makeData, type Data } from 'apache-arrow';
import { isFixedWidth } from './partition-hash.js';

/** A stretch of the index list that falls in one chunk: positions [from, to) of the indices. */
export interface ChunkRun {
  chunk: number;
  /** Row number (within the whole column) of the chunk's first row. */
  base: number;
  from: number;
  to: number;
}

/** Split sorted row indices into runs per chunk; `chunkStarts` has one entry per chunk plus the total. */
export function chunkRuns(chunkStarts: readonly number[], indices: Uint32Array): ChunkRun[] {
  const runs: ChunkRun[] = [];
  let chunk = 0;
  let from = 0;
  const n = indices.length;
  while (from < n) {
    const row = indices[from]!;
    while (row >= chunkStarts[chunk + 1]!) chunk++;
    const end = chunkStarts[chunk + 1]!;
    let to = from + 1;
    // Indices are sorted: the run ends at the first index past this chunk.
    while (to < n && indices[to]! < end) to++;
    runs.push({ chunk, base: chunkStarts[chunk]!, from, to });
    from = to;
  }
  return runs;
}

/** Take rows of `chunks` (one column) at `indices`; `runs` come from chunkRuns(). */
export function gatherColumn(chunks: readonly Data[], runs: readonly ChunkRun[], indices: Uint32Array): Data {
  const type = chunks[0]!.type;
  const n = indices.length;
  const { nullBitmap, nullCount } = gatherValidity(chunks, runs, indices);

  if (DataType.isNull(type)) return makeData({ type, length: n, nullCount: n });

  if (DataType.isDictionary(type)) {
    const dictionary = chunks[0]!.dictionary!;
    if (chunks.some((c) => c.dictionary !== dictionary)) {
      throw new Error('gatherColumn: dictionary chunks with different dictionaries must be gathered separately');
    }
    const values = gatherFixed(chunks, runs, indices, n);
    return makeData({ type, length: n, nullCount, nullBitmap, data: values as never, dictionary });
  }

  if (DataType.isUtf8(type) || DataType.isBinary(type)) {
    const { offsets, bytes } = gatherVariable(chunks, runs, indices, false);
    return makeData({ type, length: n, nullCount, nullBitmap, valueOffsets: offsets as Int32Array, data: bytes } as never);
  }

  if (DataType.isLargeUtf8(type) || DataType.isLargeBinary(type)) {
    const { offsets, bytes } = gatherVariable(chunks, runs, indices, true);
    return makeData({ type, length: n, nullCount, nullBitmap, valueOffsets: offsets as BigInt64Array, data: bytes } as never);
  }

  if (DataType.isBool(type)) {
    const bits = new Uint8Array(bitmapBytes(n));
    for (const run of runs) {
      const data = chunks[run.chunk]!;
      const src = data.values as Uint8Array;
      for (let j = run.from; j < run.to; j++) {
        const bit = data.offset + indices[j]! - run.base;
        if (src[bit >> 3]! & (1 << (bit & 7))) bits[j >> 3]! |= 1 << (j & 7);
      }
    }
    return makeData({ type, length: n, nullCount, nullBitmap, data: bits });
  }

  if (DataType.isStruct(type)) {
    // A sliced struct's children are already sliced to it (Data.slice does that for structs).
    const children = type.children.map((_, c) =>
      gatherColumn(
        chunks.map((chunk) => chunk.children[c]!),
        runs,
        indices,
      ),
    );
    return makeData({ type, length: n, nullCount, nullBitmap, children });
  }

  if (isFlatFixedWidth(type)) {
    return makeData({ type, length: n, nullCount, nullBitmap, data: gatherFixed(chunks, runs, indices, n) } as never);
  }

  // Lists, maps, unions, views: correct but row by row through Arrow's builders (rare as payload).
  return gatherWithBuilder(chunks, runs, indices);
}

function isFlatFixedWidth(type: DataType): boolean {
  return DataType.isFloat(type) || isFixedWidth(type);
}

function bitmapBytes(n: number): number {
  // Arrow pads buffers to 64 bytes; padding to 8 is enough for JS readers and the IPC writer.
  return Math.ceil(n / 64) * 8;
}

function gatherValidity(
  chunks: readonly Data[],
  runs: readonly ChunkRun[],
  indices: Uint32Array,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  if (chunks.every((c) => c.nullCount === 0 || !c.nullBitmap || c.nullBitmap.byteLength === 0)) {
    return { nullBitmap: undefined, nullCount: 0 };
  }
  const n = indices.length;
  const out = new Uint8Array(bitmapBytes(n));
  let valid = 0;
  for (const run of runs) {
    const data = chunks[run.chunk]!;
    const bitmap = data.nullBitmap;
    if (data.nullCount === 0 || !bitmap || bitmap.byteLength === 0) {
      for (let j = run.from; j < run.to; j++) out[j >> 3]! |= 1 << (j & 7);
      valid += run.to - run.from;
      continue;
    }
    for (let j = run.from; j < run.to; j++) {
      const bit = data.offset + indices[j]! - run.base;
      if (bitmap[bit >> 3]! & (1 << (bit & 7))) {
        out[j >> 3]! |= 1 << (j & 7);
        valid++;
      }
    }
  }
  return { nullBitmap: out, nullCount: n - valid };
}

type TypedValues = ArrayBufferView & { length: number; BYTES_PER_ELEMENT: number; constructor: { new (buffer: ArrayBuffer, byteOffset: number, length: number): TypedValues } };

/**
 * Fixed-width values: copy each row's bytes as 32-bit words (or 16/8-bit units for narrow types).
 * Going through integer views keeps every bit pattern (a Float64Array copy may canonicalise NaNs)
 * and avoids a BigInt per 64-bit value.
 */
function gatherFixed(chunks: readonly Data[], runs: readonly ChunkRun[], indices: Uint32Array, n: number): TypedValues {
  const first = chunks[0]!.values as unknown as TypedValues;
  const stride = chunks[0]!.stride;
  const rowBytes = first.BYTES_PER_ELEMENT * stride;
  // Sizes are computed with arithmetic, not bit masks: a column may pass 2^31 bytes.
  const buffer = new ArrayBuffer(Math.max(8, Math.ceil((n * rowBytes) / 8) * 8));
  const unit = rowBytes % 4 === 0 ? 4 : rowBytes % 2 === 0 ? 2 : 1;
  const perRow = rowBytes / unit;
  const View = unit === 4 ? Int32Array : unit === 2 ? Uint16Array : Uint8Array;
  const out = new View(buffer, 0, n * perRow);
  for (const run of runs) {
    const values = chunks[run.chunk]!.values as unknown as TypedValues;
    const src = new View(values.buffer as ArrayBuffer, values.byteOffset, values.byteLength / unit);
    if (perRow === 1) {
      for (let j = run.from; j < run.to; j++) out[j] = src[indices[j]! - run.base]!;
    } else if (perRow === 2) {
      for (let j = run.from; j < run.to; j++) {
        const s = 2 * (indices[j]! - run.base);
        out[2 * j] = src[s]!;
        out[2 * j + 1] = src[s + 1]!;
      }
    } else {
      for (let j = run.from; j < run.to; j++) {
        const s = perRow * (indices[j]! - run.base);
        out.set(src.subarray(s, s + perRow), perRow * j);
      }
    }
  }
  const ValuesType = first.constructor;
  return new ValuesType(buffer, 0, n * stride);
}

/**
 * 32-bit view of a chunk's offsets: `words[stride * i]` is offset i. 64-bit offsets whose values
 * all fit in 31 bits are read through their low words (little-endian), avoiding a BigInt per row.
 */
function offsetWords(offsets: Int32Array | BigInt64Array, rows: number): { words: Int32Array; stride: 1 | 2 } | null {
  if (offsets instanceof Int32Array) return { words: offsets, stride: 1 };
  const words = new Int32Array(offsets.buffer, offsets.byteOffset, offsets.length * 2);
  // Offsets grow monotonically: the last one bounds them all.
  return words[2 * rows + 1] === 0 && words[2 * rows]! >= 0 ? { words, stride: 2 } : null;
}

/** Variable-width (utf8/binary, 32- or 64-bit offsets): new offsets, then the byte ranges. */
function gatherVariable(
  chunks: readonly Data[],
  runs: readonly ChunkRun[],
  indices: Uint32Array,
  large: boolean,
): { offsets: Int32Array | BigInt64Array; bytes: Uint8Array } {
  const n = indices.length;
  const views = chunks.map((c) => offsetWords(c.valueOffsets as unknown as Int32Array | BigInt64Array, c.length));
  if (views.some((v) => v === null)) {
    throw new RangeError('a large_utf8/large_binary chunk holds more than 2 GiB of values: gathering it is not supported');
  }
  // Pass 1: output offsets (as doubles: exact up to 2^53 bytes).
  const starts = new Float64Array(n + 1);
  let total = 0;
  for (const run of runs) {
    const { words, stride } = views[run.chunk]!;
    for (let j = run.from; j < run.to; j++) {
      const at = stride * (indices[j]! - run.base);
      starts[j] = total;
      total += words[at + stride]! - words[at]!;
    }
  }
  starts[n] = total;
  if (!large && total > 0x7fffffff) {
    throw new RangeError(`a gathered utf8/binary column would hold ${total} bytes, more than 32-bit offsets allow: use large_utf8`);
  }
  // Pass 2: copy the bytes (short values byte by byte: cheaper than a subarray per value).
  const bytes = new Uint8Array(Math.ceil(total / 8) * 8);
  for (const run of runs) {
    const { words, stride } = views[run.chunk]!;
    const src = chunks[run.chunk]!.values as Uint8Array;
    for (let j = run.from; j < run.to; j++) {
      const at = stride * (indices[j]! - run.base);
      const begin = words[at]!;
      const end = words[at + stride]!;
      let to = starts[j]!;
      if (end - begin <= 32) for (let b = begin; b < end; b++) bytes[to++] = src[b]!;
      else bytes.set(src.subarray(begin, end), to);
    }
  }
  if (!large) return { offsets: Int32Array.from(starts), bytes: bytes.subarray(0, total) };
  const offsets = new BigInt64Array(n + 1);
  const words = new Int32Array(offsets.buffer);
  for (let i = 0; i <= n; i++) {
    const v = starts[i]!;
    words[2 * i] = v % 4294967296;
    words[2 * i + 1] = Math.floor(v / 4294967296);
  }
  return { offsets, bytes: bytes.subarray(0, total) };
}

function gatherWithBuilder(chunks: readonly Data[], runs: readonly ChunkRun[], indices: Uint32Array): Data {
  const type = chunks[0]!.type;
  const builder = makeBuilder({ type, nullValues: [null, undefined] });
  const vectors = chunks.map((c) => new Vector([c]));
  for (const run of runs) {
    const vector = vectors[run.chunk]!;
    for (let j = run.from; j < run.to; j++) builder.append(vector.get(indices[j]! - run.base));
  }
  return builder.finish().flush();
}
