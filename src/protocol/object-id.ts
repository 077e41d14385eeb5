/**
 * Object ids: exactly 20 raw bytes (docs/protocol.md §6). Never text on the wire.
 */
import { createHash, randomBytes } from 'node:crypto';

export const OBJECT_ID_SIZE = 20;

export class ObjectId {
  /** The 20 raw bytes. Treat as immutable. */
  readonly bytes: Uint8Array;
  /** Hex form, cached: used as a Map key throughout the store and client. */
  readonly hex: string;

  private constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.hex = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  }

  /** Copy 20 bytes into a new id; throws a TypeError naming the length otherwise. */
  static fromBytes(bytes: Uint8Array): ObjectId {
    if (bytes.byteLength !== OBJECT_ID_SIZE) {
      throw new TypeError(`an object id is ${OBJECT_ID_SIZE} bytes, got ${bytes.byteLength}`);
    }
    // Buffer.from copies small values into Node's shared pool: a store holding millions of ids
    // does not pay for an ArrayBuffer per id.
    return new ObjectId(Buffer.from(bytes));
  }

  /** Parse 40 hex digits. */
  static fromHex(hex: string): ObjectId {
    if (!/^[0-9a-fA-F]{40}$/.test(hex)) {
      throw new TypeError(`an object id in hex is 40 hex digits, got ${JSON.stringify(hex)}`);
    }
    return new ObjectId(Buffer.from(hex, 'hex'));
  }

  /** 20 random bytes, like pyarrow's ObjectID.from_random(). */
  static random(): ObjectId {
    return new ObjectId(Buffer.from(randomBytes(OBJECT_ID_SIZE)));
  }

  /** Deterministic id for a name such as `shuffle/7/part-3`: the first 20 bytes of its SHA-256. */
  static fromName(name: string): ObjectId {
    const digest = createHash('sha256').update(name, 'utf8').digest();
    return new ObjectId(Buffer.from(digest.subarray(0, OBJECT_ID_SIZE)));
  }

  toHex(): string {
    return this.hex;
  }

  equals(other: ObjectId): boolean {
    return this.hex === other.hex;
  }

  toString(): string {
    return this.hex;
  }
}
