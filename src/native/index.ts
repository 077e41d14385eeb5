/**
 * The native core, typed in one place.
 *
 * The addon (C++ in `native/src/`, built by node-gyp into `build/Release`) exports a handful of
 * primitives: regions of shared memory, an allocator that carves them up, zero-copy windows into
 * mapped memory, and a Unix-socket channel that frames Plasma messages and passes descriptors.
 * Nothing in here knows what an object id is; protocol and policy live in TypeScript.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** A window of mapped memory as an external ArrayBuffer (never copied, never > 4 GiB). */
export interface MemoryWindow {
  /** External ArrayBuffer over mapped memory. Keeps the mapping alive while reachable. */
  readonly buffer: ArrayBuffer;
  /** Offset of the requested range inside `buffer`. */
  readonly byteOffset: number;
}

/** A mapping of (a prefix of) a file or device. Unmapped when closed AND every window is collected. */
export interface NativeMapping {
  readonly length: number;
  readonly readOnly: boolean;
  /**
   * A zero-copy window covering [offset, offset + length). Windows are 64-byte aligned views of a
   * cached per-window ArrayBuffer (stride 2 GiB, span < 4 GiB), so objects up to 2 GiB always fit.
   */
  window(offset: number, length: number): MemoryWindow;
  /** Base address of the mapping, for tests that prove zero-copy. */
  address(): bigint;
  /** Drop the owner's reference. Memory stays valid for windows still reachable from JS. */
  close(): void;
}

export interface RegionCreateOptions {
  /** File in /dev/shm, a hugetlbfs directory file, a DAX device (/dev/daxX.Y) or any regular file. */
  path: string;
  /** Bytes usable for objects (the header page comes on top). */
  capacity: number;
  /** Owner node name written into the header (at most 63 bytes of UTF-8). */
  nodeName: string;
  /** The path is on hugetlbfs: round sizes to the huge page size, no fallocate. */
  hugepages?: boolean;
  /** Pre-fault every page at creation (default true). */
  prefault?: boolean;
  /** File mode for a newly created file (default 0o600). */
  mode?: number;
}

export interface RegionAttachOptions {
  readOnly?: boolean;
  /** Refuse to attach unless the header's UUID equals this one. */
  expectUuid?: string;
}

/** A region: one large contiguous memory area owned by one store, with a header page. */
export interface NativeRegion {
  readonly path: string;
  /** Descriptor owned by the region; valid until close(). Never closed by GC. */
  readonly fd: number;
  readonly uuid: string;
  readonly nodeName: string;
  readonly layoutVersion: number;
  /** Offset of the first object byte (the header page size). */
  readonly dataOffset: number;
  /** Bytes usable for objects. */
  readonly capacity: number;
  /** dataOffset + capacity: the length a client maps. */
  readonly mapLength: number;
  readonly readOnly: boolean;
  readonly kind: 'file' | 'hugetlbfs' | 'dax';
  readonly mapping: NativeMapping;
  /** Close the descriptor and drop the mapping (windows stay valid while reachable). */
  close(): void;
}

export interface AllocatorStats {
  capacity: number;
  used: number;
  free: number;
  largestFree: number;
  blocks: number;
  freeBlocks: number;
}

/** Best-fit allocator with coalescing; O(log n); metadata lives outside the region. */
export interface NativeAllocator {
  /** Offset (>= base, 64-byte aligned) of a new block of at least max(size, 1) bytes, or -1. */
  allocate(size: number): number;
  /** Free the block at offset; throws on an offset that is not an allocated block. */
  free(offset: number): void;
  stats(): AllocatorStats;
}

export type FramingMode = 'plasma' | 'length64';

export interface ChannelHandlers {
  /** A complete frame. In 'length64' mode, type is always 0. */
  onFrame(type: number, body: Buffer): void;
  /** A descriptor received with an fd-carrier byte, in stream order relative to frames. */
  onFd(fd: number): void;
  /** The channel closed: reason is null for an orderly EOF or local close, else why. */
  onClose(reason: string | null): void;
}

/** A Unix stream socket on Node's event loop: framed reads via recvmsg, one ordered writer. */
export interface NativeChannel {
  readonly fd: number;
  /** Start reading and delivering events. */
  start(handlers: ChannelHandlers): void;
  /** Queue one frame (header + body) behind everything queued before. */
  sendFrame(type: number, body: Uint8Array): void;
  /** Queue one fd-carrier message (1 byte + SCM_RIGHTS). The fd is dup'd now; the caller keeps its own. */
  sendFd(fd: number): void;
  /** Bytes queued but not yet written. */
  readonly pendingWriteBytes: number;
  /** Largest accepted frame body; larger frames close the channel with a reason. */
  maxFrameBytes: number;
  pauseReading(): void;
  resumeReading(): void;
  ref(): void;
  unref(): void;
  /** Close now; queued output is dropped. */
  close(): void;
  /** Close once the write queue has drained. */
  end(): void;
}

export interface NativeListener {
  readonly path: string;
  close(): void;
  ref(): void;
  unref(): void;
}

export interface NativeAddon {
  createRegion(options: RegionCreateOptions): NativeRegion;
  attachRegion(path: string, options?: RegionAttachOptions): NativeRegion;
  /** Map `length` bytes of fd from offset 0 (MAP_SHARED). Does not close fd. */
  mapFd(fd: number, length: number, readOnly: boolean): NativeMapping;
  createAllocator(base: number, size: number): NativeAllocator;
  listen(path: string, mode: FramingMode, onConnection: (channel: NativeChannel) => void): NativeListener;
  connect(path: string, mode: FramingMode): NativeChannel;
  /** Wrap an existing socket descriptor (takes ownership). */
  channelFromFd(fd: number, mode: FramingMode): NativeChannel;
  socketPair(): [number, number];
  closeFd(fd: number): void;
  /** Address of an ArrayBuffer's backing store, for zero-copy proofs. */
  addressOf(buffer: ArrayBuffer): bigint;
  /** Free bytes in the filesystem holding path (statvfs). */
  freeSpace(path: string): number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function loadAddon(): NativeAddon {
  // src/native or dist/native → ../../build/Release
  const candidate = path.resolve(here, '../../build/Release/plasmapool_native.node');
  try {
    return require(candidate) as NativeAddon;
  } catch (error) {
    throw new Error(
      `plasmapool: cannot load the native addon at ${candidate} (${(error as Error).message}). ` +
        'Build it with `npm run build` (needs g++ and the Node headers in /usr/include/node).',
    );
  }
}

export const native: NativeAddon = loadAddon();
