/**
 * A client's view of one object: zero-copy Uint8Arrays over the store's memory, pinned until
 * released. Each buffer owns its own external ArrayBuffer over the object's bytes, so the object
 * stays pinned exactly as long as anything (a view, an Arrow table) still references that memory:
 * when the ArrayBuffer is garbage-collected, a FinalizationRegistry releases the object.
 */
import { PlasmapoolError } from '../errors.js';
import { native } from '../native/index.js';
import type { ObjectId } from '../protocol/object-id.js';
import { PlasmaStoreError } from './errors.js';

/** Thrown when a buffer is read after its reference went back to the store. */
export class ObjectReleasedError extends PlasmapoolError {
  override readonly name = 'ObjectReleasedError';
  override readonly code: string = 'OBJECT_RELEASED';
}

/**
 * @internal What the client tracks of one handed-out buffer: whether its reference is gone, and
 * (weakly) its memory, so that the client can detach it when the object goes away under it.
 */
export interface BufferToken {
  released: boolean;
  readonly memory: WeakRef<ArrayBuffer>;
}

/** @internal What a buffer needs from its client: one call when its reference goes away. */
export interface ReleaseTarget {
  releaseReference(token: BufferToken): void;
}

/**
 * @internal What a writable buffer needs from its client: copies into the object that compute
 * the seal digest as they go (src/protocol/digest.ts DigestWriter).
 */
export interface WriteTarget {
  /** Copy `source` into the object's data at `offset` (checked by the buffer). */
  write(memory: ArrayBuffer, source: Uint8Array, offset: number): void;
  /** A view of the data went out: its bytes may change without write(), so seal hashes them anew. */
  exposed(): void;
}

interface HeldReference {
  target: ReleaseTarget;
  token: BufferToken;
}

/** Releases the object when its memory is no longer reachable from JS. */
const finalizer = new FinalizationRegistry<HeldReference>((held) => {
  if (held.token.released) return;
  held.token.released = true;
  held.target.releaseReference(held.token);
});

/**
 * @internal Invalidate a buffer without giving its reference back (the client already gave it
 * back: abort, close). Its memory is detached, so every view over it reads as empty instead of
 * reading memory the store may reuse.
 */
export function revokeBuffer(token: BufferToken): void {
  if (token.released) return;
  token.released = true;
  finalizer.unregister(token);
  const memory = token.memory.deref();
  if (memory) native.detachArrayBuffer(memory);
}

/**
 * One reference to an object in the store's shared memory, from `create()` (writable until
 * sealed) or `get()` (read-only by convention). Release it with `release()`, with `using`, or let
 * the garbage collector do it once nothing references its memory any more.
 */
export class ObjectBuffer implements Disposable {
  private readonly token: BufferToken;
  private readonly memory: ArrayBuffer;
  private readonly target: ReleaseTarget;
  private readonly writeTarget: WriteTarget | null;

  /** @internal built by the client. */
  constructor(
    /** The object's id. */
    readonly id: ObjectId,
    memory: ArrayBuffer,
    /** Bytes of data. */
    readonly dataSize: number,
    /** Bytes of metadata (stored right after the data). */
    readonly metadataSize: number,
    /** True for the buffer `create()` returned: write the data, then seal. */
    readonly writable: boolean,
    target: ReleaseTarget,
    token: BufferToken,
    writeTarget: WriteTarget | null = null,
  ) {
    this.memory = memory;
    this.target = target;
    this.token = token;
    this.writeTarget = writeTarget;
    // The registry holds the target strongly only through the held value; `target` is kept for release().
    finalizer.register(memory, { target, token }, token);
  }

  /** True once this buffer's reference went back to the store (release, abort, close). */
  get released(): boolean {
    return this.token.released;
  }

  /**
   * The ArrayBuffer over the object's bytes (data then metadata) in the store's shared memory.
   * Arrow tables built from this object keep it, and therefore the object, alive.
   */
  get buffer(): ArrayBuffer {
    this.check();
    this.writeTarget?.exposed();
    return this.memory;
  }

  /**
   * The object's data, zero-copy (read-only by convention once sealed). Writing through it works;
   * write() is faster for bulk data, because then seal() need not read the object again to hash it.
   */
  get data(): Uint8Array {
    this.check();
    this.writeTarget?.exposed();
    return new Uint8Array(this.memory, 0, this.dataSize);
  }

  /**
   * Copy `source` into the data at `offset` (default 0), for a buffer from `create()` before
   * seal. Writes that follow each other from offset 0 up are hashed while they are copied, so
   * that seal() costs no second pass over the object (any other write, or a view taken with
   * `data` or `buffer`, makes seal() hash the whole object instead: still correct, only slower).
   */
  write(source: Uint8Array, offset = 0): void {
    this.check();
    if (!this.writable || !this.writeTarget) {
      throw new PlasmaStoreError(`object ${this.id.hex} is not writable: write() is for the buffer create() returned, before seal()`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + source.byteLength > this.dataSize) {
      throw new RangeError(
        `write of ${source.byteLength} bytes at offset ${offset} does not fit in the ${this.dataSize} bytes of data of ${this.id.hex}`,
      );
    }
    this.writeTarget.write(this.memory, source, offset);
  }

  /** The object's metadata, zero-copy. */
  get metadata(): Uint8Array {
    this.check();
    return new Uint8Array(this.memory, this.dataSize, this.metadataSize);
  }

  /**
   * Give the reference back to the store now. Views taken from this buffer are detached (they
   * read as empty) rather than left pointing at memory the store may reuse. Idempotent.
   */
  release(): void {
    if (this.token.released) return;
    this.token.released = true;
    finalizer.unregister(this.token);
    native.detachArrayBuffer(this.memory);
    this.target.releaseReference(this.token);
  }

  /** Same as release(): `using buffer = await client.getOne(id)` releases at the end of the block. */
  [Symbol.dispose](): void {
    this.release();
  }

  private check(): void {
    if (this.token.released) {
      throw new ObjectReleasedError(`object ${this.id.hex} was released; get it again to read it`);
    }
  }
}
