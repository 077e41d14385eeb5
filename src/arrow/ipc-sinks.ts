/**
 * Byte sinks for Arrow's IPC writers: one that only counts, one that copies each chunk straight
 * into a target (an object's shared memory). Serializing twice, first into the counter and then
 * into the object, gives exactly one copy of the data and no intermediate buffer.
 */
import { AsyncByteQueue } from 'apache-arrow';

type Chunk = ArrayBufferView | ArrayBufferLike | ArrayLike<number> | Iterable<number>;

function asBytes(chunk: Chunk): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer || chunk instanceof SharedArrayBuffer) return new Uint8Array(chunk);
  return Uint8Array.from(chunk as ArrayLike<number>);
}

/** Counts the bytes a writer produces. */
export class CountingSink extends AsyncByteQueue {
  byteLength = 0;

  override write(chunk: Chunk): void {
    this.byteLength += asBytes(chunk).byteLength;
  }
}

/** Where a TargetSink copies to: a Uint8Array, or anything that copies bytes in at an offset. */
export interface ByteTarget {
  readonly byteLength: number;
  set(bytes: Uint8Array, offset: number): void;
}

/** Copies what a writer produces into `target`, in order; refuses to overflow it. */
export class TargetSink extends AsyncByteQueue {
  position = 0;

  constructor(private readonly target: ByteTarget) {
    super();
  }

  override write(chunk: Chunk): void {
    const bytes = asBytes(chunk);
    if (this.position + bytes.byteLength > this.target.byteLength) {
      throw new Error(`Arrow IPC output grew past the ${this.target.byteLength} bytes measured for it`);
    }
    this.target.set(bytes, this.position);
    this.position += bytes.byteLength;
  }
}
