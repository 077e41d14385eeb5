/**
 * The Plasma digest (§6) against known XXH64 vectors, and the ≥ 1 MiB chunked rule recomputed
 * independently from raw xxhash-wasm one-shot calls.
 */
import xxhash from 'xxhash-wasm';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { CHUNKED_DIGEST_THRESHOLD, type DigestFunction, loadDigest, plasmaDigest } from '../../src/protocol/digest.js';

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

  it('plasmaDigest before loadDigest throws a clear error', async () => {
    vi.resetModules();
    const fresh = await import('../../src/protocol/digest.js');
    expect(() => fresh.plasmaDigest(new Uint8Array(0), new Uint8Array(0))).toThrow(/await loadDigest\(\)/);
    await fresh.loadDigest();
    expect(hex(fresh.plasmaDigest(new Uint8Array(0), new Uint8Array(0)))).toBe('99e9d85137db46ef');
  });
});
