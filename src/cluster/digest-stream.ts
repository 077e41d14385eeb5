/**
 * The Plasma digest (docs/protocol.md §6, src/protocol/digest.ts) computed incrementally over
 * bytes that arrive in order: the copy transport verifies a replica against the digest its
 * creator recorded at seal while the bytes are still arriving, so no second pass is needed.
 *
 * Layout (same as plasmaDigest): data under 1 MiB and then the metadata go through one XXH64
 * state; from 1 MiB on, data is 8 chunks of ⌊⌊n/64⌋/8⌋·64 bytes plus a suffix, each hashed
 * alone, and the main state takes their 9 little-endian u64 results, then the metadata.
 */
import type { XXHashAPI } from 'xxhash-wasm';

type Xxh64State = ReturnType<XXHashAPI['create64']>;

const CHUNKED_FROM = 1 << 20;
const CHUNKS = 8;
const BLOCK = 64;
/** xxhash-wasm copies every update into its memory: small slices keep it small and fast. */
const SLICE = 1 << 20;

export class DigestStream {
  private readonly main: Xxh64State;
  /** Chunk boundaries within the data (chunked layout only): chunk i is [bounds[i], bounds[i+1]). */
  private readonly bounds: number[] | null;
  private readonly partials: bigint[] = [];
  private current: Xxh64State | null = null;
  private position = 0;

  constructor(
    private readonly hasher: XXHashAPI,
    private readonly dataSize: number,
    private readonly metadataSize: number,
  ) {
    this.main = hasher.create64(0n);
    if (dataSize >= CHUNKED_FROM) {
      const chunk = Math.floor(Math.floor(dataSize / BLOCK) / CHUNKS) * BLOCK;
      this.bounds = Array.from({ length: CHUNKS + 1 }, (_, i) => i * chunk).concat(dataSize);
      this.current = hasher.create64(0n);
    } else {
      this.bounds = null;
    }
  }

  /** The next bytes of data-then-metadata, in order. */
  update(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.byteLength) {
      const take = Math.min(bytes.byteLength - at, SLICE, this.room());
      this.feed(bytes.subarray(at, at + take));
      at += take;
    }
  }

  /** The 8-byte digest; every byte must have arrived. */
  digest(): Uint8Array {
    if (this.position !== this.dataSize + this.metadataSize) {
      throw new Error(`digest of ${this.position} bytes of ${this.dataSize + this.metadataSize}`);
    }
    if (this.bounds) this.finishChunks();
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, this.main.digest()), true);
    return out;
  }

  /** Bytes until the next boundary at which the target state changes. */
  private room(): number {
    const total = this.dataSize + this.metadataSize;
    if (!this.bounds || this.position >= this.dataSize) return total - this.position;
    const next = this.bounds.find((bound) => bound > this.position)!;
    return next - this.position;
  }

  private feed(slice: Uint8Array): void {
    if (this.bounds && this.position < this.dataSize) {
      this.current!.update(slice);
      this.position += slice.byteLength;
      // A chunk boundary (the suffix may be empty, so close every boundary reached).
      while (this.partials.length < CHUNKS + 1 && this.bounds[this.partials.length + 1]! <= this.position) {
        this.partials.push(this.current!.digest());
        this.current = this.hasher.create64(0n);
      }
      if (this.position === this.dataSize) this.finishChunks();
      return;
    }
    this.main.update(slice);
    this.position += slice.byteLength;
  }

  private finishChunks(): void {
    if (this.partials.length !== CHUNKS + 1 || this.current === null) return;
    const partial = new DataView(new ArrayBuffer((CHUNKS + 1) * 8));
    this.partials.forEach((value, i) => partial.setBigUint64(8 * i, BigInt.asUintN(64, value), true));
    this.main.update(new Uint8Array(partial.buffer));
    this.current = null;
  }
}
