/**
 * Conversions between wire values and typed values, shared by the store and client codecs.
 *
 * Reading (untrusted input, after flatbuffer-verifier has checked the structure) throws
 * ProtocolError. Writing (our own values) throws RangeError: a bad value there is a bug in the
 * caller, and sending it would crash or confuse a C++ client.
 */
import { Builder, ByteBuffer, Encoding } from 'flatbuffers';
import { ProtocolError } from './messages.js';
import { OBJECT_ID_SIZE, ObjectId } from './object-id.js';

/** The digest a sealed object carries (§6). */
export const DIGEST_SIZE = 8;

/** Pass to generated string accessors: fields typed `string` hold raw bytes (§1.3). */
export const BYTES = Encoding.UTF8_BYTES;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = -MAX_SAFE;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

// ---------------------------------------------------------------------------------------------
// Reading

export function byteBuffer(body: Uint8Array): ByteBuffer {
  return new ByteBuffer(body);
}

/**
 * The bytes of a binary string field. An absent field reads as empty, as in FlatBuffers. The view
 * aliases the message body: copy it if it must outlive the body.
 */
export function binary(value: string | Uint8Array | null): Uint8Array {
  if (value === null) return new Uint8Array(0);
  // Only reachable if an accessor was called without BYTES: a bug here, not bad input.
  if (typeof value === 'string') throw new TypeError('binary field read as text; pass Encoding.UTF8_BYTES');
  return value;
}

/** A 20-byte object id (§6); anything else is a protocol violation. Copies the bytes. */
export function objectIdFrom(value: string | Uint8Array | null, where: string): ObjectId {
  const bytes = value === null ? null : binary(value);
  if (bytes === null || bytes.byteLength !== OBJECT_ID_SIZE) {
    const got = bytes === null ? 'none' : `${bytes.byteLength} bytes`;
    throw new ProtocolError(`${where}: an object id is ${OBJECT_ID_SIZE} bytes, got ${got}`);
  }
  return ObjectId.fromBytes(bytes);
}

/** A vector of object ids, read through the generated accessor `at`. */
export function objectIdList(length: number, at: (index: number) => string | Uint8Array | null, where: string): ObjectId[] {
  return listOf(length, (i) => objectIdFrom(at(i), `${where}[${i}]`));
}

/** An 8-byte digest (§6), copied out of the body. */
export function digestFrom(value: string | Uint8Array | null, where: string): Uint8Array {
  const bytes = binary(value);
  if (bytes.byteLength !== DIGEST_SIZE) {
    throw new ProtocolError(`${where}: a digest is ${DIGEST_SIZE} bytes, got ${bytes.byteLength}`);
  }
  return bytes.slice();
}

/** Any-length binary string copied out of the body (batch digests, ObjectInfo digests). */
export function copyOf(value: string | Uint8Array | null): Uint8Array {
  return binary(value).slice();
}

/**
 * An int64/uint64 wire value as a JS number, exact: values below `min` or beyond
 * Number.MAX_SAFE_INTEGER are protocol violations (no real size or offset is that large).
 */
export function safeNumber(value: bigint, where: string, min = 0): number {
  if (value < BigInt(min) || value > MAX_SAFE) {
    throw new ProtocolError(`${where}: ${value} is outside [${min}, ${Number.MAX_SAFE_INTEGER}]`);
  }
  return Number(value);
}

/** An int64 wire value clamped into the safe-integer range, keeping its sign. */
export function clampedNumber(value: bigint): number {
  if (value > MAX_SAFE) return Number.MAX_SAFE_INTEGER;
  if (value < MIN_SAFE) return -Number.MAX_SAFE_INTEGER;
  return Number(value);
}

/** Reads `length` elements through `at`, for the generated vector accessors. */
export function listOf<T>(length: number, at: (index: number) => T): T[] {
  const out = new Array<T>(length);
  for (let i = 0; i < length; i++) out[i] = at(i);
  return out;
}

/** Throws unless vectors that must run in parallel have the same length. */
export function sameLengths(where: string, lengths: Record<string, number>): void {
  const values = Object.values(lengths);
  if (values.some((n) => n !== values[0])) {
    const list = Object.entries(lengths)
      .map(([name, n]) => `${name} ${n}`)
      .join(', ');
    throw new ProtocolError(`${where}: parallel vectors differ in length (${list})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

/** A builder sized for the payload, so large inline data is not copied while the buffer grows. */
export function builderFor(payloadBytes = 0): Builder {
  return new Builder(Math.max(256, Math.min(payloadBytes + 1024, 0x7fff_ffff)));
}

/** Finishes without file identifier or size prefix (§1.3). */
export function finish(builder: Builder, root: number): Uint8Array {
  builder.finish(root);
  return builder.asUint8Array();
}

/** A binary string: the bytes verbatim, never UTF-8 encoded (§1.3). */
export function createBinary(builder: Builder, bytes: Uint8Array): number {
  return builder.createString(bytes);
}

/** A vector of binary strings. */
export function createBinaryVector(builder: Builder, items: readonly Uint8Array[]): number {
  const offsets = items.map((bytes) => builder.createString(bytes));
  builder.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) builder.addOffset(offsets[i]!);
  return builder.endVector();
}

export function idBytes(ids: readonly ObjectId[]): Uint8Array[] {
  return ids.map((id) => id.bytes);
}

/** A safe integer as int64, within [min, MAX_SAFE_INTEGER]. */
export function int64(value: number, where: string, min = 0): bigint {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${where}: expected a safe integer ≥ ${min}, got ${value}`);
  }
  return BigInt(value);
}

export function int32(value: number, where: string, min = INT32_MIN): number {
  if (!Number.isInteger(value) || value < min || value > INT32_MAX) {
    throw new RangeError(`${where}: expected an int32 ≥ ${min}, got ${value}`);
  }
  return value;
}
