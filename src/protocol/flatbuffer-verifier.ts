/**
 * Structural verification of untrusted FlatBuffers before the generated accessors touch them.
 *
 * The flatbuffers JS runtime does not verify: an offset past the end reads as 0, a string whose
 * length runs past the end is silently cut short, and a vector length of 2^31 makes a decoder loop
 * for ever. So every buffer that arrives from a socket is first walked here, the way the C++
 * `Verifier` would, against a shape that mirrors fbs/plasma.fbs slot by slot (table-shapes.ts).
 * After `verifyRoot` succeeds, every accessor the codecs call on that shape stays inside the
 * buffer, and every vector length is bounded by the buffer size.
 *
 * Deliberately lenient where the C++ verifier is strict but nothing can go wrong in JS: no
 * alignment checks (JS reads byte by byte) and no check of a string's NUL terminator (readers use
 * the stored length, §1.3).
 */
import { ProtocolError } from './messages.js';

/** The kind of value stored in one table slot. */
export type FieldKind =
  | 'bool'
  | 'int32'
  | 'int64'
  | 'uint64'
  | 'string'
  | 'vector<string>'
  | 'vector<ubyte>'
  | 'vector<int32>'
  | 'vector<int64>'
  | { readonly struct: number }
  | { readonly vectorOfStructs: number }
  | { readonly table: () => TableShape }
  | { readonly vectorOfTables: () => TableShape };

export interface FieldShape {
  readonly name: string;
  readonly kind: FieldKind;
}

/** A table's fields in slot order: `fields[k]` is slot k (vtable byte offset 4 + 2k). */
export interface TableShape {
  readonly name: string;
  readonly fields: readonly FieldShape[];
}

/** FlatBuffers buffers are limited to 2^31 − 1 bytes; all offsets are below that. */
const MAX_BUFFER = 0x7fff_ffff;
/** The JS runtime reads vtable entries as signed 16-bit values: larger ones would read negative. */
const MAX_VOFFSET = 0x7fff;
/** The schema nests at most table → vector of tables → table; anything deeper is hostile. */
const MAX_DEPTH = 8;

const SCALAR_SIZE = { bool: 1, int32: 4, int64: 8, uint64: 8 } as const;
const VECTOR_ELEMENT_SIZE = { 'vector<ubyte>': 1, 'vector<int32>': 4, 'vector<int64>': 8 } as const;

class Verifier {
  private readonly view: DataView;
  private readonly length: number;

  constructor(
    bytes: Uint8Array,
    private readonly root: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.length = bytes.byteLength;
  }

  fail(where: string, what: string): never {
    throw new ProtocolError(`malformed ${this.root} (${this.length} bytes): ${where}: ${what}`);
  }

  /** [pos, pos + size) lies inside the buffer. */
  inside(pos: number, size: number): boolean {
    return pos >= 0 && size >= 0 && pos + size <= this.length;
  }

  /** Follows the uoffset stored at `pos`; returns the absolute target. */
  follow(pos: number, where: string): number {
    if (!this.inside(pos, 4)) this.fail(where, `offset at ${pos} is past the end`);
    const rel = this.view.getUint32(pos, true);
    // uoffsets point forward; 0 would point at itself, ≥ 2^31 reads negative in the JS runtime.
    if (rel === 0 || rel > MAX_BUFFER) this.fail(where, `bad offset ${rel} at ${pos}`);
    const target = pos + rel;
    if (!this.inside(target, 1)) this.fail(where, `offset at ${pos} points past the end (to ${target})`);
    return target;
  }

  /** Verifies a vector header at `pos` whose elements are `elementSize` bytes; returns its length. */
  vector(pos: number, elementSize: number, where: string): number {
    if (!this.inside(pos, 4)) this.fail(where, `vector length at ${pos} is past the end`);
    const count = this.view.getUint32(pos, true);
    // Divide rather than multiply: count × elementSize can exceed 2^53 only in theory, but a
    // hostile count must never reach an allocation.
    if (count > (this.length - pos - 4) / elementSize) {
      this.fail(where, `vector of ${count} × ${elementSize} bytes at ${pos} runs past the end`);
    }
    return count;
  }

  string(pos: number, where: string): void {
    this.vector(pos, 1, where);
  }

  table(pos: number, shape: TableShape, depth: number): void {
    const where = shape.name;
    if (depth > MAX_DEPTH) this.fail(where, 'tables nested too deeply');
    if (!this.inside(pos, 4)) this.fail(where, `table at ${pos} is past the end`);
    const vtable = pos - this.view.getInt32(pos, true);
    if (!this.inside(vtable, 4)) this.fail(where, `vtable at ${vtable} is outside the buffer`);
    const vtableSize = this.view.getUint16(vtable, true);
    const tableSize = this.view.getUint16(vtable + 2, true);
    if (vtableSize < 4 || vtableSize % 2 !== 0 || vtableSize > MAX_VOFFSET || !this.inside(vtable, vtableSize)) {
      this.fail(where, `bad vtable size ${vtableSize} at ${vtable}`);
    }
    if (tableSize < 4 || tableSize > MAX_VOFFSET || !this.inside(pos, tableSize)) {
      this.fail(where, `bad table size ${tableSize} at ${pos}`);
    }
    shape.fields.forEach((field, slot) => {
      const entry = 4 + 2 * slot;
      if (entry + 2 > vtableSize) return; // vtable shorter than the schema: field absent
      const voffset = this.view.getUint16(vtable + entry, true);
      if (voffset === 0) return;
      if (voffset > MAX_VOFFSET) this.fail(`${where}.${field.name}`, `bad field offset ${voffset}`);
      this.field(pos + voffset, field, `${where}.${field.name}`, depth);
    });
  }

  private field(pos: number, field: FieldShape, where: string, depth: number): void {
    const kind = field.kind;
    if (typeof kind === 'string') {
      if (kind in SCALAR_SIZE) {
        const size = SCALAR_SIZE[kind as keyof typeof SCALAR_SIZE];
        if (!this.inside(pos, size)) this.fail(where, `${kind} at ${pos} is past the end`);
        return;
      }
      const target = this.follow(pos, where);
      if (kind === 'string') return this.string(target, where);
      if (kind === 'vector<string>') {
        const count = this.vector(target, 4, where);
        for (let i = 0; i < count; i++) this.string(this.follow(target + 4 + 4 * i, `${where}[${i}]`), `${where}[${i}]`);
        return;
      }
      this.vector(target, VECTOR_ELEMENT_SIZE[kind as keyof typeof VECTOR_ELEMENT_SIZE], where);
      return;
    }
    if ('struct' in kind) {
      if (!this.inside(pos, kind.struct)) this.fail(where, `${kind.struct}-byte struct at ${pos} is past the end`);
      return;
    }
    const target = this.follow(pos, where);
    if ('vectorOfStructs' in kind) {
      this.vector(target, kind.vectorOfStructs, where);
      return;
    }
    if ('table' in kind) {
      this.table(target, kind.table(), depth + 1);
      return;
    }
    const count = this.vector(target, 4, where);
    const shape = kind.vectorOfTables();
    for (let i = 0; i < count; i++) this.table(this.follow(target + 4 + 4 * i, `${where}[${i}]`), shape, depth + 1);
  }
}

/**
 * Throws ProtocolError unless `bytes` is a structurally sound FlatBuffer whose root table has
 * `shape`: every offset, vtable, string and vector it reaches lies inside the buffer.
 */
export function verifyRoot(bytes: Uint8Array, shape: TableShape): void {
  const verifier = new Verifier(bytes, shape.name);
  if (bytes.byteLength > MAX_BUFFER) verifier.fail('buffer', 'larger than a FlatBuffer can be');
  if (bytes.byteLength < 8) verifier.fail('buffer', 'too short to hold a root offset and a table');
  verifier.table(verifier.follow(0, 'root offset'), shape, 0);
}
