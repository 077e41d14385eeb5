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
 * XXH64 comes from `xxhash-wasm`, whose WebAssembly module loads asynchronously: `await
 * loadDigest()` once at start-up, after which `plasmaDigest` is synchronous.
 */
import xxhash from 'xxhash-wasm';

type XXHashApi = Awaited<ReturnType<typeof xxhash>>;
type Xxh64State = ReturnType<XXHashApi['create64']>;

/** A function from (data, metadata) to the 8-byte digest. */
export type DigestFunction = (data: Uint8Array, metadata: Uint8Array) => Uint8Array;

/** Data of at least this many bytes is hashed in chunks (the client's kBytesInMB). */
export const CHUNKED_DIGEST_THRESHOLD = 1 << 20;
/** The client's hashing concurrency: the number of equal chunks. */
const CHUNKS = 8;
/** Chunks are whole multiples of this block size. */
const BLOCK = 64;
/**
 * xxhash-wasm copies each update into WebAssembly memory; feeding large buffers in slices keeps
 * that memory small. Streaming XXH64 gives the same result however the input is sliced.
 */
const SLICE = 8 << 20;

const SEED = 0n;

let api: XXHashApi | undefined;
let loading: Promise<XXHashApi> | undefined;

function feed(state: Xxh64State, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.byteLength; at += SLICE) state.update(bytes.subarray(at, at + SLICE));
}

function xxh64(hasher: XXHashApi, bytes: Uint8Array): bigint {
  const state = hasher.create64(SEED);
  feed(state, bytes);
  return state.digest();
}

/** Below this many bytes in all, one-shot hashing of a contiguous copy beats a streaming state. */
const ONE_SHOT_BYTES = 64 * 1024;
const joined = new Uint8Array(ONE_SHOT_BYTES);

/** The digest as the u64 the client computes (its little-endian bytes are the wire form). */
function computeValue(hasher: XXHashApi, data: Uint8Array, metadata: Uint8Array): bigint {
  const n = data.byteLength;
  // Small objects: the same XXH64 over data then metadata, without a streaming state (which costs
  // ~6 µs to set up, 18 times the hash of a small object).
  if (metadata.byteLength === 0 && n < CHUNKED_DIGEST_THRESHOLD) return hasher.h64Raw(data, SEED);
  if (n + metadata.byteLength <= ONE_SHOT_BYTES) {
    joined.set(data, 0);
    joined.set(metadata, n);
    return hasher.h64Raw(joined.subarray(0, n + metadata.byteLength), SEED);
  }
  const main = hasher.create64(SEED);
  if (n >= CHUNKED_DIGEST_THRESHOLD) {
    const chunk = Math.floor(Math.floor(n / BLOCK) / CHUNKS) * BLOCK;
    const partial = new DataView(new ArrayBuffer((CHUNKS + 1) * 8));
    for (let i = 0; i < CHUNKS; i++) {
      partial.setBigUint64(8 * i, xxh64(hasher, data.subarray(i * chunk, (i + 1) * chunk)), true);
    }
    partial.setBigUint64(8 * CHUNKS, xxh64(hasher, data.subarray(CHUNKS * chunk)), true);
    main.update(new Uint8Array(partial.buffer));
  } else {
    feed(main, data);
  }
  feed(main, metadata);
  return BigInt.asUintN(64, main.digest());
}

function compute(hasher: XXHashApi, data: Uint8Array, metadata: Uint8Array): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, computeValue(hasher, data, metadata), true);
  return out;
}

/** Loads the hasher (once; later calls share it) and returns the synchronous digest function. */
export async function loadDigest(): Promise<DigestFunction> {
  loading ??= xxhash().then((loaded) => (api = loaded));
  await loading;
  return plasmaDigest;
}

/** The Plasma digest of an object as a u64 (no allocation): for comparing many digests fast. */
export function plasmaDigestValue(data: Uint8Array, metadata: Uint8Array): bigint {
  if (api === undefined) throw new Error('plasmaDigestValue: the hasher is not loaded yet; await loadDigest() first');
  return computeValue(api, data, metadata);
}

/** The Plasma digest of an object. Throws if `loadDigest()` has not completed yet. */
export function plasmaDigest(data: Uint8Array, metadata: Uint8Array): Uint8Array {
  if (api === undefined) throw new Error('plasmaDigest: the hasher is not loaded yet; await loadDigest() first');
  return compute(api, data, metadata);
}
