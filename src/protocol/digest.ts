/**
 * The Plasma object digest (docs/protocol.md §6), bit-for-bit what the C++ client computes:
 *
 * - XXH64, seed 0, over data then metadata, when data is smaller than 1 MiB;
 * - from 1 MiB of data on, the client hashes in parallel: data splits into 8 chunks of
 *   ⌊⌊n/64⌋/8⌋·64 bytes plus the remaining suffix, each hashed alone (XXH64, seed 0); the 9
 *   results go as 72 little-endian bytes into the main state, followed by the metadata.
 *
 * The result is the 8 little-endian bytes of the final u64. The store never computes or checks a
 * digest; our client does, so pyarrow's `hash()` and ours agree on the same object.
 *
 * Computed natively (native/src/digest.cc, xxHash's own XXH64), the 9 pieces of a large object on
 * several threads. `DigestWriter` computes it while the data is copied into the object, in order,
 * so that sealing needs no second pass over the object.
 */
import { native } from '../native/index.js';

/** A function from (data, metadata) to the 8-byte digest. */
export type DigestFunction = (data: Uint8Array, metadata: Uint8Array) => Uint8Array;

/** Data of at least this many bytes is hashed in chunks (the client's kBytesInMB). */
export const CHUNKED_DIGEST_THRESHOLD = 1 << 20;

const scratch = new Uint8Array(8);
const scratchView = new DataView(scratch.buffer);

/**
 * Resolves to the synchronous digest function. Nothing needs loading any more (the hash is
 * native); kept so that callers written for the WebAssembly hasher go on working.
 */
export async function loadDigest(): Promise<DigestFunction> {
  return plasmaDigest;
}

/** The Plasma digest of an object as a u64 (no allocation): for comparing many digests fast. */
export function plasmaDigestValue(data: Uint8Array, metadata: Uint8Array): bigint {
  native.plasmaDigest(data, metadata, scratch);
  return scratchView.getBigUint64(0, true);
}

/** The Plasma digest of an object: its 8 wire bytes. */
export function plasmaDigest(data: Uint8Array, metadata: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  native.plasmaDigest(data, metadata, out);
  return out;
}

/**
 * The digest of `dataSize` bytes of data computed while they are copied into place, in order:
 * each step of the source is hashed and then copied from cache (one read of it), and steps in
 * different chunks run on different threads.
 */
export class DigestWriter {
  private readonly state: object;
  private position = 0;

  constructor(readonly dataSize: number) {
    this.state = native.digestWriter(dataSize);
  }

  /** Bytes of data copied so far: the next copy must start here. */
  get written(): number {
    return this.position;
  }

  /** Copy `source` into `target` (the same length: the next bytes of data) and hash them. */
  copy(target: Uint8Array, source: Uint8Array): void {
    this.position = native.digestCopy(this.state, target, source);
  }

  /** The digest, once every byte of data was copied; `metadata` is hashed from where it lies. */
  finish(metadata: Uint8Array): Uint8Array {
    const out = new Uint8Array(8);
    native.digestFinish(this.state, metadata, out);
    return out;
  }
}
