/**
 * The Plasma digest (§6) against known XXH64 vectors, and the ≥ 1 MiB chunked rule recomputed
 * independently from raw xxhash-wasm one-shot calls.
 */
import xxhash from 'xxhash-wasm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CHUNKED_DIGEST_THRESHOLD, DigestWriter, type DigestFunction, loadDigest, plasmaDigest } from '../../src/protocol/digest.js';
import { native } from '../../src/native/index.js';

const MiB = 1 << 20;
let digestOf: DigestFunction;
let h64: (bytes: Uint8Array) => bigint;

beforeAll(async () => {
  digestOf = await loadDigest();
  const raw = await xxhash();
  h64 = (bytes) => raw.h64Raw(bytes, 0n);
});

const le64 = (value: bigint): Uint8Array => {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
};
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));

/** Deterministic pseudo-random bytes. */
function pattern(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** §6 written out again, the long way: one-shot hashes of each piece. */
function referenceDigest(data: Uint8Array, metadata: Uint8Array): Uint8Array {
  if (data.byteLength < MiB) return le64(h64(concat(data, metadata)));
  const blocks = Math.floor(data.byteLength / 64);
  const chunk = Math.floor(blocks / 8) * 64;
  const partials: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) partials.push(le64(h64(data.subarray(i * chunk, (i + 1) * chunk))));
  partials.push(le64(h64(data.subarray(8 * chunk))));
  return le64(h64(concat(...partials, metadata)));
}

describe('plasmaDigest', () => {
  it('XXH64 of empty input with seed 0 is 0xEF46DB3751D8E999, little-endian', () => {
    expect(hex(digestOf(new Uint8Array(0), new Uint8Array(0)))).toBe('99e9d85137db46ef');
    expect(hex(plasmaDigest(new Uint8Array(0), new Uint8Array(0)))).toBe('99e9d85137db46ef');
  });

  it('matches published XXH64 vectors', () => {
    const text = (s: string) => new TextEncoder().encode(s);
    expect(hex(digestOf(text('a'), new Uint8Array(0)))).toBe(hex(le64(0xd24ec4f1a98c6e5bn)));
    expect(hex(digestOf(text('abc'), new Uint8Array(0)))).toBe(hex(le64(0x44bc2cf5ad770999n)));
  });

  it('hashes data then metadata as one stream below 1 MiB', () => {
    const data = pattern(1000, 1);
    const metadata = pattern(77, 2);
    expect(digestOf(data, metadata)).toEqual(le64(h64(concat(data, metadata))));
    // Where data ends and metadata begins does not matter below the threshold.
    expect(digestOf(data.subarray(0, 500), concat(data.subarray(500), metadata))).toEqual(digestOf(data, metadata));
  });

  it.each([0, 1, 63, 64, 4096, MiB - 1])('%i bytes of data: plain XXH64', (n) => {
    const data = pattern(n, n + 3);
    const metadata = pattern(n % 13, 9);
    expect(digestOf(data, metadata)).toEqual(referenceDigest(data, metadata));
    expect(digestOf(data, metadata)).toEqual(le64(h64(concat(data, metadata))));
  });

  it.each([MiB, MiB + 1, MiB + 63, MiB + 511, MiB + 512 + 13, 3 * MiB + 1000 + 7])('%i bytes of data: 8 chunks + suffix', (n) => {
    const data = pattern(n, n);
    const metadata = pattern(100, 5);
    const digest = digestOf(data, metadata);
    expect(digest).toEqual(referenceDigest(data, metadata));
    // The chunked rule really differs from a plain hash, so the threshold is observable.
    expect(digest).not.toEqual(le64(h64(concat(data, metadata))));
  });

  it('the threshold is exactly 1 MiB of data (metadata does not count)', () => {
    expect(CHUNKED_DIGEST_THRESHOLD).toBe(MiB);
    const data = pattern(MiB - 1, 11);
    const metadata = pattern(10, 12);
    expect(digestOf(data, metadata)).toEqual(le64(h64(concat(data, metadata))));
  });

  it('large inputs fed in slices give the same result as one-shot hashing', () => {
    const data = pattern(100, 21);
    const metadata = pattern(17 * MiB + 5, 22); // below the data threshold, but over the slice size
    expect(digestOf(data, metadata)).toEqual(le64(h64(concat(data, metadata))));
    const big = pattern(20 * MiB + 99, 23);
    expect(digestOf(big, new Uint8Array(0))).toEqual(referenceDigest(big, new Uint8Array(0)));
  });

  it('loadDigest is idempotent and returns the same function', async () => {
    expect(await loadDigest()).toBe(digestOf);
  });

  it('plasmaDigest needs no loading (native): it works in a fresh module before loadDigest', async () => {
    vi.resetModules();
    const fresh = await import('../../src/protocol/digest.js');
    expect(hex(fresh.plasmaDigest(new Uint8Array(0), new Uint8Array(0)))).toBe('99e9d85137db46ef');
    expect(await fresh.loadDigest()).toBe(fresh.plasmaDigest);
  });
});

describe('DigestWriter: the digest computed while the data is copied in order', () => {
  /** Copy `data` into a fresh target through a writer in pieces of the given sizes; returns both. */
  function writeInPieces(data: Uint8Array, pieces: number[]): { target: Uint8Array; writer: DigestWriter } {
    const target = new Uint8Array(data.byteLength);
    const writer = new DigestWriter(data.byteLength);
    let at = 0;
    for (let i = 0; at < data.byteLength; i++) {
      const size = Math.min(pieces[i % pieces.length]!, data.byteLength - at);
      writer.copy(target.subarray(at, at + size), data.subarray(at, at + size));
      at += size;
    }
    expect(writer.written).toBe(data.byteLength);
    return { target, writer };
  }

  it.each([
    [0, [1]],
    [1000, [1000]],
    [1000, [1, 7, 64, 300]],
    [MiB - 1, [65536]],
    [MiB, [MiB]],
    [MiB + 513, [4096, 100_003]],
    [3 * MiB + 1000 + 7, [3 * MiB + 1007]],
    [3 * MiB + 1000 + 7, [393_216, 1]], // pieces that straddle the chunk boundaries and end on them
    [24 * MiB + 77, [24 * MiB + 77]], // one write over all 9 pieces: hashed on several threads
    [24 * MiB + 77, [5 * MiB + 3]],
  ])('%i bytes written in pieces of %j: copies exactly and digests like plasmaDigest (§6)', (n, pieces) => {
    const data = pattern(n, n + 5);
    const metadata = pattern(n % 29, 3);
    const { target, writer } = writeInPieces(data, pieces);
    expect(Buffer.compare(target, data)).toBe(0);
    expect(writer.finish(metadata)).toEqual(referenceDigest(data, metadata));
    // Finishing twice gives the same digest.
    expect(writer.finish(metadata)).toEqual(referenceDigest(data, metadata));
  });

  it('refuses to finish before every byte was written, and to write past the end', () => {
    const writer = new DigestWriter(2 * MiB);
    const source = pattern(MiB, 1);
    const target = new Uint8Array(2 * MiB);
    writer.copy(target.subarray(0, MiB), source);
    expect(() => writer.finish(new Uint8Array(0))).toThrow(/1048576 of 2097152 bytes of data were written/);
    expect(() => writer.copy(target.subarray(0, MiB + 1), pattern(MiB + 1, 2))).toThrow(RangeError);
    expect(() => writer.copy(target.subarray(0, 10), source.subarray(0, 11))).toThrow(/must be the same length/);
    expect(writer.written).toBe(MiB);
  });

  it('native argument errors name the argument', () => {
    expect(() => native.plasmaDigest('abc' as never, new Uint8Array(0), new Uint8Array(8))).toThrow(/data must be a Uint8Array/);
    expect(() => native.plasmaDigest(new Uint8Array(0), new Uint8Array(0), new Uint8Array(7))).toThrow(/out must be exactly 8 bytes/);
    expect(() => native.digestCopy({}, new Uint8Array(1), new Uint8Array(1))).toThrow(/must be a digestWriter/);
  });
});
