/**
 * The allocator against a reference model: a sorted array of allocated [offset, size) blocks.
 * The model knows the policy (max(64, roundUp(n, 64)) bytes, best fit, lowest offset among
 * equals, immediate coalescing), so it checks not only "no overlap" but every statistic exactly.
 */
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/index.js';

const ALIGN = 64;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const blockSize = (n: number) => (n <= ALIGN ? ALIGN : Math.ceil(n / ALIGN) * ALIGN);

/** Small deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Model {
  // Parallel sorted arrays: plain numbers only, so the O(n) scans below stay cheap.
  readonly offsets: number[] = [];
  readonly sizes: number[] = [];
  used = 0;
  constructor(
    readonly base: number,
    readonly capacity: number,
  ) {}

  /** Index of the first offset >= x. */
  private lowerBound(x: number): number {
    let lo = 0;
    let hi = this.offsets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.offsets[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(offset: number, size: number): void {
    if (offset % ALIGN !== 0) throw new Error(`offset ${offset} is not 64-byte aligned`);
    if (offset < this.base || offset + size > this.base + this.capacity) {
      throw new Error(`block [${offset}, ${offset + size}) lies outside the arena`);
    }
    const i = this.lowerBound(offset);
    if (i < this.offsets.length && this.offsets[i]! < offset + size) {
      throw new Error(`block [${offset}, ${offset + size}) overlaps the block at ${this.offsets[i]}`);
    }
    if (i > 0 && this.offsets[i - 1]! + this.sizes[i - 1]! > offset) {
      throw new Error(`block [${offset}, ${offset + size}) overlaps the block at ${this.offsets[i - 1]}`);
    }
    this.offsets.splice(i, 0, offset);
    this.sizes.splice(i, 0, size);
    this.used += size;
  }

  remove(index: number): number {
    const offset = this.offsets[index]!;
    this.used -= this.sizes[index]!;
    this.offsets.splice(index, 1);
    this.sizes.splice(index, 1);
    return offset;
  }

  /**
   * One pass over the maximal free intervals: their count, the largest, and where best fit must
   * place `need` bytes (smallest interval that fits, lowest offset among equals; -1 if none).
   */
  scan(need = Infinity): { count: number; largest: number; bestFit: number } {
    let count = 0;
    let largest = 0;
    let bestFit = -1;
    let bestSize = Infinity;
    let cursor = this.base;
    const n = this.offsets.length;
    for (let i = 0; i <= n; i++) {
      const next = i < n ? this.offsets[i]! : this.base + this.capacity;
      const gap = next - cursor;
      if (gap > 0) {
        count++;
        if (gap > largest) largest = gap;
        if (gap >= need && gap < bestSize) {
          bestSize = gap;
          bestFit = cursor;
        }
      }
      if (i < n) cursor = next + this.sizes[i]!;
    }
    return { count, largest, bestFit };
  }
}

function randomSize(rand: () => number): number {
  const r = rand();
  if (r < 0.05) return 0;
  if (r < 0.6) return 1 + Math.floor(rand() * 4 * KiB);
  if (r < 0.9) return 4 * KiB + Math.floor(rand() * MiB);
  return MiB + Math.floor(rand() * 63 * MiB); // up to 64 MiB
}

describe('allocator', () => {
  it('reserve() rebuilds exact blocks from a recovered index, refusing overlaps and strays', () => {
    const a = native.createAllocator(4096, 64 * KiB);
    expect(a.reserve(4096 + 1024, 100)).toBe(true); // in the middle of the free space
    expect(a.sizeOf(4096 + 1024)).toBe(128);
    expect(a.reserve(4096, 1000)).toBe(true); // right before it: [4096, 5120)
    expect(a.reserve(4096 + 1024 + 64, 10)).toBe(false); // inside the first reserved block
    expect(a.reserve(4096 + 960, 200)).toBe(false); // overlaps both
    expect(a.reserve(4096 + 1, 10)).toBe(false); // not on a 64-byte boundary
    expect(a.reserve(4096 + 64 * KiB - 64, 128)).toBe(false); // past the end
    expect(a.reserve(0, 64)).toBe(false); // before the base
    expect(a.stats()).toMatchObject({ used: 1024 + 128, blocks: 2, freeBlocks: 1 });
    // What remains is allocated around them; freeing merges back to one free block.
    const next = a.allocate(64);
    expect(next).toBe(4096 + 1024 + 128);
    for (const offset of [4096, 4096 + 1024, next]) a.free(offset);
    expect(a.stats()).toMatchObject({ used: 0, blocks: 0, freeBlocks: 1, largestFree: 64 * KiB });
  });

  it('gives zero-byte requests distinct 64-byte blocks and rejects bad frees', () => {
    const a = native.createAllocator(4096, 64 * KiB);
    const x = a.allocate(0);
    const y = a.allocate(0);
    expect(x).toBe(4096);
    expect(y).toBe(4096 + 64);
    expect(a.sizeOf(x)).toBe(64);
    expect(a.allocate(65)).toBe(4096 + 128);
    expect(a.sizeOf(4096 + 128)).toBe(128);
    expect(a.stats()).toEqual({ capacity: 64 * KiB, used: 256, free: 64 * KiB - 256, largestFree: 64 * KiB - 256, blocks: 3, freeBlocks: 1 });
    expect(() => a.free(4096 + 1)).toThrow(expect.objectContaining({ code: 'ERR_NOT_A_BLOCK' }));
    expect(() => a.free(999_999)).toThrow(/no block starts at this offset/);
    a.free(x);
    expect(() => a.free(x)).toThrow(expect.objectContaining({ code: 'ERR_DOUBLE_FREE' }));
    expect(() => a.sizeOf(x)).toThrow(expect.objectContaining({ code: 'ERR_NOT_A_BLOCK' }));
    expect(a.allocate(64 * KiB)).toBe(-1);
    expect(() => native.createAllocator(100, 1000)).toThrow(/not 64-byte aligned/);
    expect(() => a.allocate(-1)).toThrow(RangeError);
    expect(() => a.allocate(1.5)).toThrow(RangeError);
  });

  it('coalesces free neighbours on both sides', () => {
    const a = native.createAllocator(0, 1024);
    const blocks = [0, 1, 2, 3].map(() => a.allocate(256));
    expect(blocks).toEqual([0, 256, 512, 768]);
    a.free(256);
    a.free(768);
    expect(a.stats()).toMatchObject({ freeBlocks: 2, largestFree: 256 });
    a.free(512); // merges with both neighbours
    expect(a.stats()).toMatchObject({ freeBlocks: 1, largestFree: 768, blocks: 1 });
    expect(a.allocate(768)).toBe(256);
  });

  it('matches the reference model over 1,000,000 random operations (sizes 0 B to 64 MiB)', () => {
    const seed = Number(process.env.ALLOCATOR_SEED ?? 0x5eed1234);
    const rand = prng(seed);
    const base = 4096;
    const capacity = 4 * GiB;
    const allocator = native.createAllocator(base, capacity);
    const model = new Model(base, capacity);
    const OPS = 1_000_000;
    let allocations = 0;
    let failures = 0;
    let bestFitChecks = 0;

    const checkFull = (op: number) => {
      const { count, largest } = model.scan();
      const stats = allocator.stats();
      if (stats.largestFree !== largest || stats.freeBlocks !== count) {
        throw new Error(
          `seed ${seed}, op ${op}: largestFree ${stats.largestFree} / freeBlocks ${stats.freeBlocks}, ` +
            `model ${largest} / ${count} (free blocks not coalesced?)`,
        );
      }
    };

    for (let op = 0; op < OPS; op++) {
      // Alternate filling and draining phases so the arena runs full (failures, fragmentation)
      // and empties again (coalescing).
      const filling = Math.floor(op / 25_000) % 2 === 0;
      const wantAlloc = model.offsets.length === 0 || rand() < (filling ? 0.72 : 0.32);
      if (wantAlloc) {
        const size = randomSize(rand);
        const need = blockSize(size);
        const expected = allocations % 16 === 0 ? model.scan(need).bestFit : undefined;
        const offset = allocator.allocate(size);
        allocations++;
        if (expected !== undefined) {
          bestFitChecks++;
          if (offset !== expected) throw new Error(`seed ${seed}, op ${op}: allocate(${size}) → ${offset}, best fit is ${expected}`);
        }
        if (offset === -1) {
          failures++;
          const { largest } = model.scan();
          if (largest >= need) throw new Error(`seed ${seed}, op ${op}: allocate(${size}) failed with a ${largest}-byte gap free`);
        } else {
          try {
            model.insert(offset, need);
          } catch (error) {
            throw new Error(`seed ${seed}, op ${op}: allocate(${size}): ${(error as Error).message}`);
          }
        }
      } else {
        const index = Math.floor(rand() * model.offsets.length);
        const offset = model.remove(index);
        allocator.free(offset);
      }
      const stats = allocator.stats();
      if (stats.used !== model.used || stats.free !== capacity - model.used || stats.blocks !== model.offsets.length) {
        throw new Error(
          `seed ${seed}, op ${op}: stats used ${stats.used} free ${stats.free} blocks ${stats.blocks}, ` +
            `model used ${model.used} blocks ${model.offsets.length}`,
        );
      }
      if (op % 1000 === 0) checkFull(op);
    }
    checkFull(OPS);
    expect(failures).toBeGreaterThan(1000); // the arena really ran full
    expect(bestFitChecks).toBeGreaterThan(25_000);

    // Free everything in random order: the whole capacity must be one block again.
    while (model.offsets.length > 0) allocator.free(model.remove(Math.floor(rand() * model.offsets.length)));
    expect(allocator.stats()).toEqual({ capacity, used: 0, free: capacity, largestFree: capacity, blocks: 0, freeBlocks: 1 });
    expect(allocator.allocate(capacity + 1)).toBe(-1);
    expect(allocator.allocate(capacity)).toBe(base);
    allocator.free(base);
  });
});
