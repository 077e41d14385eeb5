/**
 * A client's view of one object: zero-copy Uint8Arrays over the store's memory, pinned until
 * released. Each buffer owns its own external ArrayBuffer over the object's bytes, so the object
 * stays pinned exactly as long as anything (a view, an Arrow table) still references that memory:
 * when the ArrayBuffer is garbage-collected, a FinalizationRegistry releases the object.
 */
import { native } from '../native/index.js';
import type { ObjectId } from '../protocol/object-id.js';

export class ObjectReleasedError extends Error {
  override readonly name = 'ObjectReleasedError';
}

/** What a buffer needs from its client: one call when its reference goes away. */
export interface ReleaseTarget {
  releaseReference(key: string): void;
}

interface BufferToken {
  released: boolean;
}

interface HeldReference {
  target: ReleaseTarget;
  key: string;
  token: BufferToken;
}

/** Releases the object when its memory is no longer reachable from JS. */
const finalizer = new FinalizationRegistry<HeldReference>((held) => {
  if (held.token.released) return;
  held.token.released = true;
  held.target.releaseReference(held.key);
});

export class ObjectBuffer implements Disposable {
  private readonly token: BufferToken = { released: false };
  private readonly memory: ArrayBuffer;

  /** @internal built by the client. */
  constructor(
    readonly id: ObjectId,
    memory: ArrayBuffer,
    readonly dataSize: number,
    readonly metadataSize: number,
    readonly writable: boolean,
    target: ReleaseTarget,
  ) {
    this.memory = memory;
    finalizer.register(memory, { target, key: id.hex, token: this.token }, this.token);
    // The registry holds the target strongly only through the held value; keep one for release().
    this.target = target;
  }

  private readonly target: ReleaseTarget;

  get released(): boolean {
    return this.token.released;
  }

  /**
   * The ArrayBuffer over the object's bytes (data then metadata) in the store's shared memory.
   * Arrow tables built from this object keep it, and therefore the object, alive.
   */
  get buffer(): ArrayBuffer {
    this.check();
    return this.memory;
  }

  /** The object's data, zero-copy (read-only by convention once sealed). */
  get data(): Uint8Array {
    this.check();
    return new Uint8Array(this.memory, 0, this.dataSize);
  }

  /** The object's metadata, zero-copy. */
  get metadata(): Uint8Array {
    this.check();
    return new Uint8Array(this.memory, this.dataSize, this.metadataSize);
  }

  /**
   * Give the reference back to the store now. Views taken from this buffer are detached (they
   * read as empty) rather than left pointing at memory the store may reuse.
   */
  release(): void {
    if (this.token.released) return;
    this.token.released = true;
    finalizer.unregister(this.token);
    native.detachArrayBuffer(this.memory);
    this.target.releaseReference(this.id.hex);
  }

  [Symbol.dispose](): void {
    this.release();
  }

  private check(): void {
    if (this.token.released) {
      throw new ObjectReleasedError(`object ${this.id.hex} was released; get it again to read it`);
    }
  }
}
