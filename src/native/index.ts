/**
 * The native core, typed in one place.
 *
 * The addon (C++ in `native/src/`, built by node-gyp into `build/Release`) exports a handful of
 * primitives: regions of shared memory, an allocator that carves them up, zero-copy windows into
 * mapped memory, and a Unix-socket channel that frames Plasma messages and passes descriptors.
 * Nothing in here knows what an object id is; protocol and policy live in TypeScript.
 */
import { NativeAddonError } from '../errors.js';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * Every Error the addon throws carries a `code`: an errno name for system failures ('ENOSPC',
 * 'ENOENT', 'EACCES', 'EEXIST', 'ENOMEM', 'ECONNREFUSED', 'ENAMETOOLONG', ...) or one of these.
 * Argument errors are TypeError/RangeError with code 'ERR_INVALID_ARG_TYPE' / 'ERR_OUT_OF_RANGE'.
 */
export type NativeErrorCode =
  | 'ERR_BAD_MAGIC' // attach: not a plasmapool region
  | 'ERR_UNSUPPORTED_VERSION' // attach: region layout version this build cannot read
  | 'ERR_BAD_HEADER' // attach: checksum/consistency/truncation problem
  | 'ERR_UUID_MISMATCH' // attach: expectUuid differs
  | 'ERR_MAP_PAST_EOF' // mapFd: length beyond the end of the file (would SIGBUS)
  | 'ERR_CLOSED' // use after close()
  | 'ERR_STARTED' // channel.start() twice
  | 'ERR_NOT_A_BLOCK' // allocator.free()/sizeOf() of an offset that is not a block
  | 'ERR_DOUBLE_FREE' // allocator.free() of a free block
  | (string & {});

export interface NativeError extends Error {
  code: NativeErrorCode;
}

/** A window of mapped memory as an external ArrayBuffer (never copied, never > 4 GiB). */
export interface MemoryWindow {
  /** External ArrayBuffer over mapped memory. Keeps the mapping alive while reachable. */
  readonly buffer: ArrayBuffer;
  /** Offset of the requested range inside `buffer`. */
  readonly byteOffset: number;
}

/**
 * A MAP_SHARED mapping of (a prefix of) a file or device, from offset 0. Unmapped once it is
 * closed (or the mapping object itself is collected) AND every window ArrayBuffer is collected.
 * It never closes the descriptor it was mapped from.
 */
export interface NativeMapping {
  readonly length: number;
  /**
   * PROT_READ only. Windows of a read-only mapping are ordinary ArrayBuffers to JS: writing into
   * one is a segmentation fault that kills the process, so hand them out as read-only views.
   */
  readonly readOnly: boolean;
  readonly closed: boolean;
  /**
   * A zero-copy window covering [offset, offset + length). Window k is one cached ArrayBuffer over
   * [k * 2 GiB, k * 2 GiB + min(4 GiB - 64 KiB, rest)), recreated if it was collected; a range up
   * to 2 GiB - 64 KiB always lies in one of them. A longer range (up to 4 GiB - 64 KiB) gets an
   * uncached window starting at its page. Window starts are page aligned, so a 64-aligned offset
   * is 64-aligned in `buffer`. Throws RangeError outside the mapping, ERR_CLOSED after close().
   */
  window(offset: number, length: number): MemoryWindow;
  /**
   * A new external ArrayBuffer over exactly [offset, offset + length) (at most 4 GiB - 64 KiB),
   * not cached: each call makes its own, which keeps the mapping alive until it is collected or
   * detached (detachArrayBuffer). A 64-aligned offset gives a 64-aligned buffer start.
   */
  slice(offset: number, length: number): ArrayBuffer;
  /** Base address of the mapping, for tests that prove zero-copy. */
  address(): bigint;
  /** Drop the owner's reference (idempotent). Memory stays valid for windows still reachable. */
  close(): void;
}

export interface RegionCreateOptions {
  /** File in /dev/shm, a hugetlbfs directory file, a DAX device (/dev/daxX.Y) or any regular file. */
  path: string;
  /** Bytes usable for objects (the header page comes on top). */
  capacity: number;
  /** Owner node name written into the header (at most 63 bytes of UTF-8). */
  nodeName: string;
  /**
   * Require hugetlbfs (it is detected from the path anyway): sizes round up to the huge page size
   * and there is no fallocate, because a MAP_SHARED mapping reserves its huge pages at mmap time.
   */
  hugepages?: boolean;
  /** Pre-fault every page at creation (default true). */
  prefault?: boolean;
  /** File mode for a newly created file (default 0o600, applied regardless of the umask). */
  mode?: number;
  /**
   * Reuse an existing file or DAX device, resetting it, unless a live store holds it (EBUSY: the
   * owner keeps an exclusive flock on its region). Default false: the file is created with
   * O_EXCL and an existing one is an EEXIST error.
   */
  overwrite?: boolean;
  /**
   * Slots of a crash-recovery index of sealed objects, 64 bytes each, between the header page
   * and the first object (region layout version 2). 0 (default): a v1 region without an index.
   */
  indexSlots?: number;
}

export interface RegionAttachOptions {
  readOnly?: boolean;
  /** Refuse to attach unless the header's UUID equals this one. */
  expectUuid?: string;
  /**
   * Open as the region's owner, as a store restarted on its region does: read-write, taking the
   * owner's lock (EBUSY while another live process holds it).
   */
  owner?: boolean;
}

/**
 * A region: one large contiguous memory area owned by one store, with a header page.
 *
 * createRegion() allocates the whole file up front (posix_fallocate; hugetlbfs reserves at mmap;
 * a DAX device is used as is), pre-faults it, and writes the header (layout version 1, see
 * native/src/region_header.h). Errors carry `code` and name the fix: ENOSPC (says how much is
 * free and how much was asked), ENOENT (missing directory or region), EACCES, EEXIST, EINVAL
 * (capacity 0), ENOMEM (larger than physical memory for tmpfs, or mmap refused), ERR_BAD_MAGIC,
 * ERR_UNSUPPORTED_VERSION, ERR_BAD_HEADER, ERR_UUID_MISMATCH.
 */
export interface NativeRegion {
  readonly path: string;
  /**
   * Descriptor owned by the region; valid until close(), -1 after. Never closed by GC: a region
   * dropped without close() leaks its descriptor (its memory is still released).
   */
  readonly fd: number;
  readonly uuid: string;
  readonly nodeName: string;
  readonly layoutVersion: number;
  /** Offset of the first object byte (after the header page and the index area, if any). */
  readonly dataOffset: number;
  /** Slots of the crash-recovery index (layout version 2), 0 without one. */
  readonly indexSlots: number;
  /** Offset of the index area (the header page size when there is an index). */
  readonly indexOffset: number;
  /** Bytes usable for objects: the requested capacity rounded up to the page (huge page, DAX alignment). */
  readonly capacity: number;
  /** dataOffset + capacity: the length a client maps. */
  readonly mapLength: number;
  /** Creation time from the header, in ms since the epoch. */
  readonly createdAt: number;
  readonly readOnly: boolean;
  readonly kind: 'file' | 'hugetlbfs' | 'dax';
  readonly mapping: NativeMapping;
  readonly closed: boolean;
  /** Close the descriptor and drop the mapping (windows stay valid while reachable). Idempotent. */
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

/**
 * Best-fit allocator with coalescing; O(log n); metadata lives outside the region.
 *
 * A request of n bytes takes a block of max(64, roundUp(n, 64)) bytes (so allocate(0) returns a
 * distinct block), carved from the start of the smallest free block that fits (lowest offset among
 * equals). Freed blocks merge with free neighbours immediately. Sizes/offsets are exact JS numbers
 * (base + size <= 2^53); base must be 64-aligned and size is rounded down to a multiple of 64.
 */
export interface NativeAllocator {
  /** Offset (>= base, 64-byte aligned) of a new block, or -1 if no free block fits. */
  allocate(size: number): number;
  /** Free the block at offset; throws ERR_NOT_A_BLOCK / ERR_DOUBLE_FREE otherwise. */
  free(offset: number): void;
  /**
   * Mark the block [offset, offset + its rounded size) allocated, as allocate() would have, when
   * rebuilding from a recovered index. False (nothing changes) unless it lies in one free block.
   */
  reserve(offset: number, size: number): boolean;
  /** Size of the allocated block at offset (the rounded size); throws ERR_NOT_A_BLOCK. */
  sizeOf(offset: number): number;
  /** blocks = allocated blocks, freeBlocks = free blocks; used + free = capacity. */
  stats(): AllocatorStats;
}

export type FramingMode = 'plasma' | 'length64';

/**
 * Handlers are called from the event loop with a proper callback scope (napi_make_callback):
 * microtasks run after each one, and an exception thrown by a handler becomes an uncaught
 * exception ('uncaughtException'), never a corrupted channel. A handler may call any method of
 * the channel, including close() and pauseReading(); no further event is delivered after close().
 */
export interface ChannelHandlers {
  /** A complete frame (the body is a copy the handler owns). In 'length64' mode, type is always 0. */
  onFrame(type: number, body: Buffer): void;
  /**
   * A descriptor received with an fd-carrier byte (the byte itself is stripped), in stream order
   * relative to frames. The handler owns the fd (close it with closeFd). A message carrying more
   * than one descriptor, or a descriptor inside a frame, closes the channel with a reason
   * (extras are closed), as the Plasma client would fail on it too.
   */
  onFd(fd: number): void;
  /**
   * Called exactly once, always asynchronously, after the socket is closed: reason is null for an
   * orderly EOF between frames, close(), or end(); otherwise it says why (bad version, oversized
   * frame, peer gone mid-frame, EOF with output still queued, EPIPE/ECONNRESET while writing, ...).
   */
  onClose(reason: string | null): void;
}

/**
 * A Unix stream socket on Node's event loop: framed reads via recvmsg, one ordered writer.
 * While open the channel keeps itself alive (a strong reference dropped after onClose), so
 * forgetting to close it leaks it, like a socket.
 */
export interface NativeChannel {
  /** The socket descriptor, owned by the channel; -1 once closed. */
  readonly fd: number;
  /** Start reading and delivering events (once). Queued writes need no start(). */
  start(handlers: ChannelHandlers): void;
  /**
   * Queue one frame (header + body) behind everything queued before; written at once when the
   * queue is empty, the rest copied. Returns false (and drops the frame) if the channel is closed
   * or ending.
   */
  sendFrame(type: number, body: Uint8Array): boolean;
  /**
   * Spin until the socket has bytes to read or `micros` (at most 1,000) have passed; true if it
   * has. Delivery still happens from the event loop.
   */
  awaitReadable(micros: number): boolean;
  /**
   * Queue one fd-carrier message (1 byte + SCM_RIGHTS). The fd is dup'd now (the caller keeps its
   * own); the duplicate is closed once sent or dropped. Returns false if the channel is closed or
   * ending; throws EBADF if fd is not open.
   */
  sendFd(fd: number): boolean;
  /** Bytes queued but not yet written (1 per queued descriptor). */
  readonly pendingWriteBytes: number;
  /** Largest accepted frame body (default 256 MiB); larger frames close the channel with a reason. */
  maxFrameBytes: number;
  /**
   * Back-pressure for a peer that sends requests without reading replies: while more than this many
   * bytes wait to be written, the channel neither reads nor delivers frames; it resumes once the
   * peer reads. 0 (the default) means no limit. Independently, at most 64 frames are delivered per
   * event-loop iteration, so one busy peer cannot starve the others.
   */
  outputLimitBytes: number;
  /** Current size of the receive assembly buffer (it grows only as bytes actually arrive). */
  readonly readBufferBytes: number;
  /** True once close()/end() completed or the channel failed; onClose may still be pending. */
  readonly closed: boolean;
  /** Stop reading from the socket (the peer feels back-pressure); buffered frames wait. */
  pauseReading(): void;
  /** Resume; frames read before the pause are delivered from the loop, not from inside this call. */
  resumeReading(): void;
  ref(): void;
  unref(): void;
  /** Close now; queued output is dropped. */
  close(): void;
  /** Close once the write queue has drained; later sends return false. */
  end(): void;
}

/**
 * A listening socket, owner-only (0600) from before it accepts anything. listen() removes a stale socket file (nobody accepting) but refuses a live
 * one (EADDRINUSE) or a non-socket file (EEXIST); paths longer than 107 bytes throw ENAMETOOLONG.
 * close() unlinks the socket file if it is still the one bound here.
 */
export interface NativeListener {
  readonly path: string;
  readonly closed: boolean;
  close(): void;
  ref(): void;
  unref(): void;
}

/**
 * The native data plane (docs/object-table.md): an index of local objects (fixed-size records
 * keyed by the 20-byte id), the pins local connections hold on them, and the capacity accounting.
 * Attached channels offer every frame to it first; it answers Get, Release and Contains of sealed
 * objects, and Create and Seal when they need no judgement, without entering JavaScript. It owns
 * the records of local objects (TypeScript keeps no entry for a sealed one), their pins and the
 * global LRU, and reports what TypeScript must learn as batched events (docs/object-table.md §4).
 */
/** Flag bits of a data plane record (native/src/object_index.h). */
export const RecordFlag = {
  InUse: 1,
  DeletePending: 2,
  Sealed: 4,
  QuotaOwned: 8,
  InLru: 16,
  TsEntry: 32,
  /** publish() only: write the sealed object's record into the region's index. */
  Indexed: 64,
} as const;

/** One record as NativeDataPlane.lookup returns it. */
export interface NativeRecordInfo {
  flags: number;
  offset: number;
  dataSize: number;
  metadataSize: number;
  createTime: number;
  constructDuration: number;
  /** The creating client's number, while unsealed. */
  creator: number;
  /** Clients' and TypeScript's pins. */
  pins: number;
  indexSlot: number;
}

export interface NativeDataPlane {
  /** Attach a plasma channel (not started yet, or started): its frames are offered here first. */
  addClient(channel: NativeChannel): number;
  /**
   * Forget a client: its pins are dropped (objects nobody pins become evictable, or raise the
   * events TypeScript decides on) and the unsealed objects it created natively are freed (§8).
   */
  dropClient(client: number): void;
  /** The client has received the region's descriptor (§4.2): native replies may omit it. */
  setFdSent(client: number): void;
  /**
   * Give the data plane a local object's record: sealed (served natively; unpinned, so in the LRU
   * unless quota-owned), or unsealed with its creator's client number. `flags`: RecordFlag bits
   * QuotaOwned, TsEntry, DeletePending, and Indexed (a sealed object gets its record in the
   * region's index, if one is attached). Throws ERR_EXISTS if already there.
   */
  publish(
    id: Uint8Array,
    offset: number,
    dataSize: number,
    metadataSize: number,
    digest: Uint8Array,
    sealed: boolean,
    creator: number,
    createTime: number,
    constructDuration: number,
    flags: number,
  ): void;
  /**
   * Seal a published unsealed object (TypeScript's own Seal path); unpinned, it joins the LRU.
   * `indexed`: it gets its record in the region's index (if one is attached).
   */
  seal(id: Uint8Array, digest: Uint8Array, constructDuration: number, indexed: boolean): void;
  /** Allocate `size` bytes within the capacity: the offset, or -1. Both paths allocate here. */
  allocate(size: number): number;
  /** Count `size` bytes already reserved in the allocator (objects recovered at start). */
  addAllocated(size: number): void;
  free(offset: number, size: number): void;
  /** Bytes allocated (exact sizes, §9). */
  readonly allocated: number;
  /** Whether Create and Seal may be served natively at all (single node, no external store). */
  setCreates(enabled: boolean): void;
  /** Whether this client's creates may be (false once it has a quota). */
  setClientCreates(client: number, enabled: boolean): void;
  /**
   * Someone may wait for a seal or listen for seals and deletions: native seals are delivered
   * before the next frame is read, and Delete and CreateAndSealBatch are left to TypeScript.
   */
  setPromptSeals(prompt: boolean): void;
  /** Whether Delete may be served natively (single node). */
  setDeletes(enabled: boolean): void;
  /**
   * A named region's crash-recovery index (docs/recovery.md): the index area at `indexOffset` of
   * the region's mapping, `slots` records, and the slots free now. From here on the data plane
   * writes a sealed object's record before its seal is acknowledged, and erases it before the
   * object's memory is given back.
   */
  attachIndex(indexOffset: number, slots: number, freeSlots: Uint32Array): void;
  /** Withdraw it (dropping any pins still on it); false if it was not published. */
  unpublish(id: Uint8Array): boolean;
  /** Pin for a client (at most one pin per client): true if this was the client's first. */
  pin(id: Uint8Array, client: number): boolean;
  /** True if the client held it (and now does not). No event is raised for calls from JS. */
  unpin(id: Uint8Array, client: number): boolean;
  /** A pin TypeScript holds for someone else (a peer's lease); counted in pins(). */
  pinHost(id: Uint8Array): void;
  /** Drop one such pin; false if there was none. No event is raised for calls from JS. */
  unpinHost(id: Uint8Array): boolean;
  /** The record of an object, or null if the data plane does not have it. */
  lookup(id: Uint8Array): NativeRecordInfo | null;
  /** Every record, 96 bytes each (src/store/native-records.ts reads them). */
  records(): Buffer;
  /** Owned by a client with a quota (its private LRU orders it), or not (the global LRU does). */
  setQuotaOwned(id: Uint8Array, owned: boolean): void;
  /** TypeScript keeps an entry of its own for it: native Seal, Abort and Delete leave it to TS. */
  setTsEntry(id: Uint8Array, on: boolean): void;
  /** Its record in the region's crash-recovery index (-1: none). */
  setIndexSlot(id: Uint8Array, slot: number): void;
  /** RefreshLRU: to the most recently used end, if in the global LRU. */
  lruTouch(id: Uint8Array): void;
  /** Take objects from the least recently used end until `bytes` are covered: their ids, 20 bytes each. */
  lruChoose(bytes: number): Buffer;
  /** Objects and bytes in the global LRU. */
  readonly lruCount: number;
  readonly lruBytes: number;
  holds(id: Uint8Array, client: number): boolean;
  /** The digest of a published sealed object (a new 8-byte Buffer), or null. */
  digest(id: Uint8Array): Buffer | null;
  /** Deleted while pinned (§3.8): its last native release is delivered to JS before the next request. */
  setDeletePending(id: Uint8Array): void;
  /** Number of pins on it: clients' and TypeScript's (0 if not published). */
  pins(id: Uint8Array): number;
  /** Events queued since the last delivery (64 bytes each, see src/store/data-plane-events.ts), or null. */
  takeEvents(): Buffer | null;
  /** Published objects. */
  readonly size: number;
  /** Requests answered natively so far. */
  readonly served: number;
  /** [objects, bytes] evicted natively, by creates that needed room (docs/object-table.md §3). */
  readonly evictedNatively: [number, number];
}

export interface NativeAddon {
  createRegion(options: RegionCreateOptions): NativeRegion;
  attachRegion(path: string, options?: RegionAttachOptions): NativeRegion;
  /** Map `length` bytes of fd from offset 0 (MAP_SHARED). Does not close fd. */
  mapFd(fd: number, length: number, readOnly: boolean): NativeMapping;
  createAllocator(base: number, size: number): NativeAllocator;
  /** onConnection receives channels that are not started yet. */
  listen(path: string, mode: FramingMode, onConnection: (channel: NativeChannel) => void): NativeListener;
  /**
   * Blocking connect (bounded to 2 s if the listener's backlog is full), then non-blocking.
   * Throws with code ENOENT (no socket file) or ECONNREFUSED (stale socket, nobody listening).
   */
  connect(path: string, mode: FramingMode): NativeChannel;
  /** Wrap an existing AF_UNIX stream socket (takes ownership on success; a throw leaves fd to the caller). */
  channelFromFd(fd: number, mode: FramingMode): NativeChannel;
  /** socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC); the caller owns both. */
  socketPair(): [number, number];
  closeFd(fd: number): void;
  /**
   * Detach an ArrayBuffer (views over it then read as empty). For a mapping.slice() buffer this
   * also drops its hold on the mapping. Never detach a window() buffer: it is shared and cached.
   */
  detachArrayBuffer(buffer: ArrayBuffer): void;
  /** Address of the first byte of an ArrayBuffer or view, for zero-copy proofs. */
  addressOf(buffer: ArrayBuffer | ArrayBufferView): bigint;
  /**
   * A data plane replying from segment `segmentId` (mmap_size reported as `mmapSize`, §4.5),
   * allocating with `allocator` up to `capacity` bytes and writing CreateAndSeal payloads through
   * the region's `mapping`;
   * `onEvents` receives event batches (see NativeDataPlane.takeEvents) before any other JS
   * callback of an attached channel runs.
   */
  createDataPlane(
    segmentId: number,
    mmapSize: number,
    allocator: NativeAllocator,
    capacity: number,
    mapping: NativeMapping,
    onEvents: (events: Buffer) => void,
  ): NativeDataPlane;
  /** Free bytes in the filesystem holding path (statvfs). */
  freeSpace(path: string): number;
  /**
   * True while a live process owns the region file at path (a store holds an exclusive flock on
   * its region for its whole life; the kernel drops it when that process dies, however it dies).
   * False for a missing file.
   */
  regionInUse(path: string): boolean;
  /**
   * The Plasma digest (docs/protocol.md §6) of data then metadata, written as its 8 little-endian
   * bytes into `out`; the 8 chunks of data of 1 MiB or more are hashed on several threads.
   */
  plasmaDigest(data: ArrayBufferView, metadata: ArrayBufferView, out: Uint8Array): void;
  /** A digest computed while `dataSize` bytes of data are copied in order (src/protocol/digest.ts DigestWriter). */
  digestWriter(dataSize: number): object;
  /** Copy source into target (same length, the writer's next bytes of data) and hash them; returns the bytes written so far. */
  digestCopy(writer: object, target: ArrayBufferView, source: ArrayBufferView): number;
  /** Once every byte of data was copied: the digest of data then metadata into out (8 bytes); ERR_INCOMPLETE before. */
  digestFinish(writer: object, metadata: ArrayBufferView, out: Uint8Array): void;
  /**
   * A new detachable ArrayBuffer over [offset, offset + length) of the mapping that V8 does not
   * count as external memory (native/src/object_view.h), so making one costs the same at any size.
   * It holds no reference on the mapping: keep the mapping object reachable while the alias is
   * (e.g. a WeakMap from alias to mapping), and detach every alias before closing the mapping.
   */
  aliasMapping(mapping: NativeMapping, offset: number, length: number): ArrayBuffer;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function loadAddon(): NativeAddon {
  // src/native or dist/native → the package root. node-gyp-build takes build/Release (a build
  // from source) first, then the prebuilt binary in prebuilds/<platform>-<arch>/ (the npm package).
  const root = path.resolve(here, '../..');
  let file: string;
  try {
    file = (require('node-gyp-build') as { resolve(dir: string): string }).resolve(root);
  } catch (error) {
    throw new NativeAddonError(
      `plasmapool: no native addon for ${process.platform}-${process.arch} in ${root} (${(error as Error).message.split('\n')[0]}). ` +
        'Build it from source with `npm rebuild plasmapool` (in a checkout: `npm run build`); it needs a C++ compiler, make and python3.',
    );
  }
  try {
    return require(file) as NativeAddon;
  } catch (error) {
    throw new NativeAddonError(`plasmapool: cannot load the native addon ${file} (${(error as Error).message}); rebuild it with \`npm rebuild plasmapool\``);
  }
}

export const native: NativeAddon = loadAddon();
