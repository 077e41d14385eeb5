/**
 * Byte-level checks where the C++ side is picky: field slots, the 48-byte PlasmaObjectSpec, the
 * all-ones data_size, and the fields a C++ client dereferences without checking (§2.3–§2.6).
 * Buffers are read and written by hand here, independently of the generated code.
 */
import { describe, expect, it } from 'vitest';
import { decodeReply } from '../../src/protocol/client-codec.js';
import { MessageType } from '../../src/protocol/messages.js';
import { decodeRequest, encodeNotification, encodeReply } from '../../src/protocol/store-codec.js';
import { digest, ids, infos } from './fixtures.js';

/** Minimal FlatBuffers reader over raw bytes. */
class Raw {
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  root(): number {
    return this.view.getUint32(0, true);
  }
  /** Absolute position of a table's field, or 0 if absent. */
  field(table: number, slot: number): number {
    const vtable = table - this.view.getInt32(table, true);
    const entry = 4 + 2 * slot;
    if (entry >= this.view.getUint16(vtable, true)) return 0;
    const voffset = this.view.getUint16(vtable + entry, true);
    return voffset === 0 ? 0 : table + voffset;
  }
  deref(pos: number): number {
    return pos + this.view.getUint32(pos, true);
  }
  /** [start of elements, length] of the vector a field points to. */
  vector(table: number, slot: number): [number, number] {
    const at = this.deref(this.field(table, slot));
    return [at + 4, this.view.getUint32(at, true)];
  }
  string(pos: number): Uint8Array {
    const at = this.deref(pos);
    return this.bytes.subarray(at + 4, at + 4 + this.view.getUint32(at, true));
  }
}

/** Little-endian writer for hand-built buffers. */
function build(size: number, write: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = new Uint8Array(size);
  write(new DataView(bytes.buffer), bytes);
  return bytes;
}

describe('field slots (hand-built buffers decoded by the store codec)', () => {
  it('PlasmaCreateRequest: object_id 0, evict_if_full 1, data_size 2, metadata_size 3, device_num 4', () => {
    const body = build(84, (v, b) => {
      v.setUint32(0, 24, true); // root table at 24
      // vtable at 4: size 14 (5 slots), table size 32
      [14, 32, 4, 28, 8, 16, 24].forEach((x, i) => v.setUint16(4 + 2 * i, x, true));
      v.setInt32(24, 24 - 4, true); // soffset to the vtable
      v.setUint32(28, 56 - 28, true); // object_id → string at 56
      v.setBigUint64(32, 50n, true); // data_size
      v.setBigUint64(40, 7n, true); // metadata_size
      v.setInt32(48, 2, true); // device_num
      v.setUint8(52, 1); // evict_if_full
      v.setUint32(56, 20, true);
      b.set(ids.mixed.bytes, 60);
    });
    expect(decodeRequest(MessageType.CreateRequest, body)).toEqual({
      kind: 'create',
      objectId: ids.mixed,
      evictIfFull: true,
      dataSize: 50,
      metadataSize: 7,
      deviceNum: 2,
    });
  });

  it('PlasmaGetRequest: object_ids 0, timeout_ms 1; a short vtable means absent fields', () => {
    const body = build(64, (v, b) => {
      v.setUint32(0, 12, true);
      [6, 8, 4].forEach((x, i) => v.setUint16(4 + 2 * i, x, true)); // only slot 0 in the vtable
      v.setInt32(12, 12 - 4, true);
      v.setUint32(16, 24 - 16, true); // object_ids → vector at 24
      v.setUint32(24, 1, true);
      v.setUint32(28, 32 - 28, true); // element 0 → string at 32
      v.setUint32(32, 20, true);
      b.set(ids.ones.bytes, 36);
    });
    expect(decodeRequest(MessageType.GetRequest, body)).toEqual({ kind: 'get', objectIds: [ids.ones], timeoutMs: 0 });
  });

  it('PlasmaDeleteRequest: count 0, object_ids 1', () => {
    const body = build(40, (v) => {
      v.setUint32(0, 12, true);
      [8, 12, 4, 8].forEach((x, i) => v.setUint16(4 + 2 * i, x, true));
      v.setInt32(12, 12 - 4, true);
      v.setInt32(16, 0, true); // count
      v.setUint32(20, 24 - 20, true); // object_ids → empty vector at 24
      v.setUint32(24, 0, true);
    });
    expect(decodeRequest(MessageType.DeleteRequest, body)).toEqual({ kind: 'delete', objectIds: [] });
  });
});

describe('reply layout (encoded by the store codec, read by hand)', () => {
  it('GetReply: 48-byte 8-aligned structs, −1 data_size for unavailable entries, all five vectors', () => {
    const { body } = encodeReply({
      kind: 'get',
      objectIds: [ids.mixed, ids.zeros],
      objects: [{ segmentIndex: 0x01020304, dataOffset: 2 ** 40 + 64, dataSize: 50, metadataOffset: 2 ** 40 + 114, metadataSize: 7, deviceNum: 0 }, null],
      storeFds: [0x01020304],
      mmapSizes: [2 ** 41 + 8],
    });
    const raw = new Raw(body);
    const root = raw.root();
    for (let slot = 0; slot < 5; slot++) expect(raw.field(root, slot), `slot ${slot}`).not.toBe(0);

    const [specs, count] = raw.vector(root, 1);
    expect(count).toBe(2);
    expect(specs % 8).toBe(0);
    const record = (i: number) => [...body.subarray(specs + 48 * i, specs + 48 * (i + 1))];
    const le = (value: bigint, width: number) => [...new Uint8Array(new BigUint64Array([value]).buffer)].slice(0, width);
    expect(record(0)).toEqual([
      ...le(0x01020304n, 4), 0, 0, 0, 0, // segment_index + padding
      ...le(2n ** 40n + 64n, 8), // data_offset
      ...le(50n, 8), // data_size
      ...le(2n ** 40n + 114n, 8), // metadata_offset
      ...le(7n, 8), // metadata_size
      0, 0, 0, 0, 0, 0, 0, 0, // device_num + padding
    ]);
    expect(record(1)).toEqual([...new Array(16).fill(0), ...new Array(8).fill(0xff), ...new Array(24).fill(0)]);

    const [idVec, idCount] = raw.vector(root, 0);
    expect(idCount).toBe(2);
    expect([...raw.string(idVec)]).toEqual([...ids.mixed.bytes]);
    expect([...raw.string(idVec + 4)]).toEqual([...ids.zeros.bytes]);
    const [fds, fdCount] = raw.vector(root, 2);
    expect([fdCount, raw.view.getInt32(fds, true)]).toEqual([1, 0x01020304]);
    const [sizes, sizeCount] = raw.vector(root, 3);
    expect([sizeCount, raw.view.getBigInt64(sizes, true)]).toEqual([1, 2n ** 41n + 8n]);
    expect(raw.vector(root, 4)[1]).toBe(0); // handles: present and empty
  });

  it('CreateReply on error still carries object_id and a zeroed plasma_object (§2.6)', () => {
    const { type, body } = encodeReply({
      kind: 'create',
      objectId: ids.mixed,
      object: { segmentIndex: 1, dataOffset: 2, dataSize: 3, metadataOffset: 5, metadataSize: 0, deviceNum: 0 },
      error: 1,
      storeFd: 1,
      mmapSize: 100,
    });
    expect(type).toBe(MessageType.CreateReply);
    const raw = new Raw(body);
    const root = raw.root();
    expect([...raw.string(raw.field(root, 0))]).toEqual([...ids.mixed.bytes]);
    const spec = raw.field(root, 1);
    expect(spec).not.toBe(0);
    expect([...body.subarray(spec, spec + 48)]).toEqual(new Array(48).fill(0));
    expect(raw.view.getInt32(raw.field(root, 2), true)).toBe(1);
  });

  it('CreateReply on success: struct in slot 1, store_fd slot 3, mmap_size slot 4', () => {
    const { body } = encodeReply({
      kind: 'create',
      objectId: ids.ones,
      object: { segmentIndex: 7, dataOffset: 64, dataSize: 50, metadataOffset: 114, metadataSize: 0, deviceNum: 0 },
      error: 0,
      storeFd: 7,
      mmapSize: 4104,
    });
    const raw = new Raw(body);
    const root = raw.root();
    const spec = raw.field(root, 1);
    expect(raw.view.getInt32(spec, true)).toBe(7);
    expect(raw.view.getBigUint64(spec + 24, true)).toBe(114n);
    expect(raw.field(root, 2)).toBe(0); // error OK: omitted, as the C++ builder does
    expect(raw.view.getInt32(raw.field(root, 3), true)).toBe(7);
    expect(raw.view.getBigInt64(raw.field(root, 4), true)).toBe(4104n);
  });

  it('DeleteReply: count, ids and errors are all written', () => {
    const { body } = encodeReply({ kind: 'delete', objectIds: [ids.zeros, ids.ones], errors: [2, 5] });
    const raw = new Raw(body);
    const root = raw.root();
    expect(raw.view.getInt32(raw.field(root, 0), true)).toBe(2);
    expect(raw.vector(root, 1)[1]).toBe(2);
    const [errors, n] = raw.vector(root, 2);
    expect([n, raw.view.getInt32(errors, true), raw.view.getInt32(errors + 4, true)]).toEqual([2, 2, 5]);
  });

  it('ListReply and notifications: every ObjectInfo has object_id and a digest, empty or not', () => {
    const list = encodeReply({ kind: 'list', objects: [infos.sealedInfo, infos.unsealedInfo] }).body;
    const note = encodeNotification([infos.sealedInfo, infos.deletionInfo]);
    for (const body of [list, note]) {
      const raw = new Raw(body);
      const [elems, n] = raw.vector(raw.root(), 0);
      expect(n).toBe(2);
      for (let i = 0; i < n; i++) {
        const info = raw.deref(elems + 4 * i);
        expect(raw.string(raw.field(info, 0)).byteLength).toBe(20);
        expect(raw.field(info, 6)).not.toBe(0);
      }
    }
    const raw = new Raw(list);
    const [elems] = raw.vector(raw.root(), 0);
    const sealed = raw.deref(elems);
    const unsealed = raw.deref(elems + 4);
    expect([...raw.string(raw.field(sealed, 6))]).toEqual([...digest]);
    expect(raw.string(raw.field(unsealed, 6)).byteLength).toBe(0);
    expect(raw.view.getBigInt64(raw.field(unsealed, 5), true)).toBe(-1n); // construct_duration
    expect(raw.view.getInt32(raw.field(sealed, 3), true)).toBe(1); // ref_count
    const noteRaw = new Raw(note);
    const deletion = noteRaw.deref(noteRaw.vector(noteRaw.root(), 0)[0] + 4);
    expect(noteRaw.view.getUint8(noteRaw.field(deletion, 7))).toBe(1); // is_deletion
  });

  it('binary strings are written verbatim, never UTF-8 encoded', () => {
    const { body } = encodeReply({ kind: 'contains', objectId: ids.mixed, hasObject: true });
    const raw = new Raw(body);
    expect([...raw.string(raw.field(raw.root(), 0))]).toEqual([...ids.mixed.bytes]);
    expect(raw.view.getInt32(raw.field(raw.root(), 1), true)).toBe(1);
  });

  it('no size prefix and no file identifier: the body starts with the root offset', () => {
    const { body } = encodeReply({ kind: 'connect', memoryCapacity: 10_000 });
    const raw = new Raw(body);
    expect(raw.root()).toBeLessThan(body.byteLength);
    expect(raw.view.getBigInt64(raw.field(raw.root(), 0), true)).toBe(10_000n);
    expect(decodeReply(MessageType.ConnectReply, body)).toEqual({ kind: 'connect', memoryCapacity: 10_000 });
  });
});
