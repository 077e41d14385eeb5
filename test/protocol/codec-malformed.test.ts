/**
 * Hostile and broken input: every failure is a ProtocolError (the connection gets closed), never
 * a RangeError, a hang, or an allocation out of proportion to the input.
 */
import { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { decodeNotification, decodeReply, encodeRequest } from '../../src/protocol/client-codec.js';
import * as fb from '../../src/protocol/generated/plasma_generated.js';
import { MessageType, ProtocolError } from '../../src/protocol/messages.js';
import { decodeRequest, encodeNotification, encodeReply } from '../../src/protocol/store-codec.js';
import { digest, ids, infos, replies, requests } from './fixtures.js';

type Decode = (body: Uint8Array) => unknown;

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Array elements and bytes reachable from a decoded value: must stay proportional to the input. */
function footprint(value: unknown): number {
  if (value instanceof Uint8Array) return 0; // views into the body, or ≤ 20-byte copies
  if (Array.isArray(value)) return value.length + value.reduce((sum: number, v) => sum + footprint(v), 0);
  if (value !== null && typeof value === 'object') return Object.values(value).reduce((sum: number, v) => sum + footprint(v), 0);
  return 0;
}

/** Decodes; succeeds or fails with ProtocolError only. Returns the value or the error. */
function attempt(decode: Decode, body: Uint8Array): unknown {
  try {
    const value = decode(body);
    expect(footprint(value)).toBeLessThanOrEqual(body.byteLength);
    return value;
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    return error;
  }
}

function expectProtocolError(fn: () => unknown, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(ProtocolError);
  if (message) expect((thrown as Error).message).toMatch(message);
}

interface Sample {
  name: string;
  body: Uint8Array;
  decode: Decode;
  value: unknown;
}

const samples: Sample[] = [
  ...requests.map((req, i) => {
    const { type, body } = encodeRequest(req);
    return { name: `request ${i} ${req.kind}`, body, decode: (b: Uint8Array) => decodeRequest(type, b), value: req };
  }),
  ...replies.map((reply, i) => {
    const { type, body } = encodeReply(reply);
    return { name: `reply ${i} ${reply.kind}`, body, decode: (b: Uint8Array) => decodeReply(type, b), value: reply };
  }),
  {
    name: 'notification',
    body: encodeNotification([infos.sealedInfo, infos.deletionInfo]),
    decode: decodeNotification,
    value: [infos.sealedInfo, infos.deletionInfo],
  },
];

describe('truncation at every length', () => {
  it.each(samples.map((s) => [s.name, s] as const))('%s', (_name, sample) => {
    for (let length = 0; length < sample.body.byteLength; length++) {
      const result = attempt(sample.decode, sample.body.slice(0, length));
      // Cutting only trailing padding can leave a buffer that still decodes: then it must decode
      // to the same message, never to something else.
      if (!(result instanceof ProtocolError)) expect(result, `length ${length}`).toEqual(sample.value);
    }
    expect(sample.decode(sample.body.slice())).toEqual(sample.value);
  });
});

describe('garbage', () => {
  const types = Array.from({ length: 40 }, (_, i) => i - 2);

  it('random bytes for every message type', () => {
    const random = prng(1);
    for (const type of types) {
      for (let n = 0; n < 200; n++) {
        const body = Uint8Array.from({ length: Math.floor(random() * 160) }, () => Math.floor(random() * 256));
        attempt((b) => decodeRequest(type, b), body);
        attempt((b) => decodeReply(type, b), body);
        attempt(decodeNotification, body);
      }
    }
  });

  it('random byte flips in valid messages', () => {
    const random = prng(2);
    for (const sample of samples) {
      for (let n = 0; n < 300; n++) {
        const body = sample.body.slice();
        const flips = 1 + Math.floor(random() * 4);
        for (let k = 0; k < flips; k++) body[Math.floor(random() * body.length)] = Math.floor(random() * 256);
        attempt(sample.decode, body);
      }
    }
  });

  it('random small integers written over valid messages (plausible offsets and lengths)', () => {
    const random = prng(3);
    for (const sample of samples) {
      for (let n = 0; n < 300; n++) {
        const body = sample.body.slice();
        const view = new DataView(body.buffer);
        const at = Math.floor(random() * Math.max(1, body.length - 3));
        if (at + 4 <= body.length) view.setInt32(at, Math.floor(random() * 512) - 128, true);
        attempt(sample.decode, body);
      }
    }
  });
});

/** Offsets into a GetRequest {object_ids: [mixed, ones, zeros], timeout 7}. */
function getRequestLayout() {
  const { body } = encodeRequest({ kind: 'get', objectIds: [ids.mixed, ids.ones, ids.zeros], timeoutMs: 7 });
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const root = view.getUint32(0, true);
  const vtable = root - view.getInt32(root, true);
  const field = root + view.getUint16(vtable + 4, true);
  const vector = field + view.getUint32(field, true);
  const firstString = vector + 4 + view.getUint32(vector + 4, true);
  return { body, root, vtable, field, vector, firstString };
}

describe('hostile offsets and lengths', () => {
  const patched = (patch: (view: DataView, layout: ReturnType<typeof getRequestLayout>) => void) => {
    const layout = getRequestLayout();
    const body = layout.body.slice();
    patch(new DataView(body.buffer), layout);
    return () => decodeRequest(MessageType.GetRequest, body);
  };

  it('decodes the unpatched layout', () => {
    expect(patched(() => {})()).toEqual({ kind: 'get', objectIds: [ids.mixed, ids.ones, ids.zeros], timeoutMs: 7 });
  });

  it.each([0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 0x1000_0000])('vector length %i', (length) => {
    const started = Date.now();
    expectProtocolError(patched((v, l) => v.setUint32(l.vector, length, true)), /vector of \d+ × 4 bytes .* runs past the end/);
    expect(Date.now() - started).toBeLessThan(100);
  });

  it('a vector length one too large reads the next bytes as an offset, and fails on them', () => {
    expectProtocolError(patched((v, l) => v.setUint32(l.vector, 4, true)));
  });

  it.each([0xffff_ffff, 0x8000_0000, 21, 10_000])('string length %i', (length) => {
    expectProtocolError(patched((v, l) => v.setUint32(l.firstString, length, true)));
  });

  it.each([0, 0xffff_fff0, 0x7fff_ffff, 10_000])('root offset %i', (offset) => {
    expectProtocolError(patched((v) => v.setUint32(0, offset, true)));
  });

  it.each([1_000_000, -1_000_000, 0x7fff_ffff, -0x8000_0000])('vtable soffset %i', (soffset) => {
    expectProtocolError(patched((v, l) => v.setInt32(l.root, soffset, true)), /vtable/);
  });

  it.each([0, 2, 5, 0xfffe, 0x8000])('vtable size %i', (size) => {
    expectProtocolError(patched((v, l) => v.setUint16(l.vtable, size, true)));
  });

  it.each([0xffff, 0x8000, 10_000])('field offset %i', (voffset) => {
    expectProtocolError(patched((v, l) => v.setUint16(l.vtable + 4, voffset, true)));
  });

  it.each([0, 0xffff_ffff, 0x8000_0000, 100_000])('uoffset of the vector field %i', (offset) => {
    expectProtocolError(patched((v, l) => v.setUint32(l.field, offset, true)));
  });

  it('empty and tiny bodies', () => {
    for (const body of [new Uint8Array(0), new Uint8Array(4), new Uint8Array(7)]) {
      expectProtocolError(() => decodeRequest(MessageType.ConnectRequest, body));
      expectProtocolError(() => decodeReply(MessageType.ConnectReply, body));
      expectProtocolError(() => decodeNotification(body));
    }
  });
});

describe('message types', () => {
  const empty = encodeRequest({ kind: 'connect' }).body;

  it.each([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25, 26, 27, 29, 31, 33, 35, 36, 100, -1, 2 ** 40, 1.5, Number.NaN])(
    'request type %d is refused',
    (type) => expectProtocolError(() => decodeRequest(type, empty), /not a request/),
  );

  it.each([0, 1, 3, 5, 7, 9, 11, 12, 13, 15, 17, 19, 21, 23, 24, 25, 26, 27, 28, 30, 32, 34, 36, -1])(
    'reply type %d is refused',
    (type) => expectProtocolError(() => decodeReply(type, empty), /not a reply/),
  );
});

/** Builds a request or reply with the generated code, for values our encoders refuse to write. */
function raw(make: (b: Builder) => number): Uint8Array {
  const b = new Builder(256);
  b.finish(make(b));
  return b.asUint8Array();
}

describe('request values the store must refuse', () => {
  const seal = (id: Uint8Array | null, dig: Uint8Array | null) =>
    raw((b) => fb.plasma_flatbuf_PlasmaSealRequest.createPlasmaSealRequest(b, id ? b.createString(id) : 0, dig ? b.createString(dig) : 0));

  it.each([0, 19, 21, 40])('a %i-byte object id', (length) => {
    expectProtocolError(() => decodeRequest(MessageType.SealRequest, seal(new Uint8Array(length), digest)), /20 bytes/);
  });

  it('a missing object id', () => {
    expectProtocolError(() => decodeRequest(MessageType.SealRequest, seal(null, digest)), /got none/);
  });

  it('a short id inside a vector', () => {
    const body = raw((b) => {
      const vec = fb.plasma_flatbuf_PlasmaGetRequest.createObjectIdsVector(b, [b.createString(ids.ones.bytes), b.createString(new Uint8Array(3))]);
      return fb.plasma_flatbuf_PlasmaGetRequest.createPlasmaGetRequest(b, vec, 0n);
    });
    expectProtocolError(() => decodeRequest(MessageType.GetRequest, body), /object_ids\[1\].*20 bytes, got 3/);
  });

  it.each([0, 7, 9, 20])('a %i-byte digest in Seal', (length) => {
    expectProtocolError(() => decodeRequest(MessageType.SealRequest, seal(ids.ones.bytes, new Uint8Array(length))), /digest is 8 bytes/);
  });

  it('a missing digest in CreateAndSeal', () => {
    const body = raw((b) => {
      const id = b.createString(ids.ones.bytes);
      return fb.plasma_flatbuf_PlasmaCreateAndSealRequest.createPlasmaCreateAndSealRequest(b, id, true, 0, 0, 0);
    });
    expectProtocolError(() => decodeRequest(MessageType.CreateAndSealRequest, body), /digest is 8 bytes, got 0/);
  });

  it('absent data and metadata in CreateAndSeal read as empty', () => {
    const body = raw((b) => {
      const id = b.createString(ids.ones.bytes);
      const dig = b.createString(digest);
      return fb.plasma_flatbuf_PlasmaCreateAndSealRequest.createPlasmaCreateAndSealRequest(b, id, false, 0, 0, dig);
    });
    expect(decodeRequest(MessageType.CreateAndSealRequest, body)).toEqual({
      kind: 'createAndSeal',
      objectId: ids.ones,
      evictIfFull: false,
      data: new Uint8Array(0),
      metadata: new Uint8Array(0),
      digest,
    });
  });

  const create = (dataSize: bigint, metadataSize = 0n) =>
    raw((b) => fb.plasma_flatbuf_PlasmaCreateRequest.createPlasmaCreateRequest(b, b.createString(ids.ones.bytes), true, dataSize, metadataSize, 0));

  // Sizes beyond any real object are clamped, so the store can answer OutOfMemory instead of
  // closing the connection (a CreateReply exists for exactly this).
  it.each([2n ** 53n, 2n ** 63n, 2n ** 64n - 1n])('a data_size of %s is clamped to the largest safe size', (size) => {
    expect(decodeRequest(MessageType.CreateRequest, create(size))).toMatchObject({ dataSize: Number.MAX_SAFE_INTEGER });
    expect(decodeRequest(MessageType.CreateRequest, create(0n, size))).toMatchObject({ metadataSize: Number.MAX_SAFE_INTEGER });
  });

  it('the largest safe data_size is accepted', () => {
    const decoded = decodeRequest(MessageType.CreateRequest, create(BigInt(Number.MAX_SAFE_INTEGER)));
    expect(decoded).toMatchObject({ kind: 'create', dataSize: Number.MAX_SAFE_INTEGER });
  });

  const get = (timeout: bigint) =>
    raw((b) => fb.plasma_flatbuf_PlasmaGetRequest.createPlasmaGetRequest(b, fb.plasma_flatbuf_PlasmaGetRequest.createObjectIdsVector(b, []), timeout));

  it.each([
    [-1n, -1],
    [0n, 0],
    [-5n, -5],
    [2n ** 31n, 2 ** 31],
    [2n ** 63n - 1n, Number.MAX_SAFE_INTEGER],
    [-(2n ** 63n), -Number.MAX_SAFE_INTEGER],
  ])('timeout_ms %s reads as %d', (wire, expected) => {
    expect(decodeRequest(MessageType.GetRequest, get(wire))).toEqual({ kind: 'get', objectIds: [], timeoutMs: expected });
  });

  const evict = (n: bigint) => raw((b) => fb.plasma_flatbuf_PlasmaEvictRequest.createPlasmaEvictRequest(b, n));

  it.each([
    [2n ** 64n - 1n, 0],
    [2n ** 63n, 0],
    [2n ** 63n - 1n, Number.MAX_SAFE_INTEGER],
    [1000n, 1000],
  ])('evict num_bytes %s reads as %d', (wire, expected) => {
    expect(decodeRequest(MessageType.EvictRequest, evict(wire))).toEqual({ kind: 'evict', numBytes: expected });
  });

  it('a negative output memory quota', () => {
    const body = raw((b) => fb.plasma_flatbuf_PlasmaSetOptionsRequest.createPlasmaSetOptionsRequest(b, b.createString('x'), -1n));
    expectProtocolError(() => decodeRequest(MessageType.SetOptionsRequest, body), /output_memory_quota/);
  });

  it('batch vectors of unequal length', () => {
    const body = raw((b) => {
      const T = fb.plasma_flatbuf_PlasmaCreateAndSealBatchRequest;
      const idsVec = T.createObjectIdsVector(b, [b.createString(ids.ones.bytes), b.createString(ids.zeros.bytes)]);
      const one = () => [b.createString(new Uint8Array(1))];
      return T.createPlasmaCreateAndSealBatchRequest(b, idsVec, true, T.createDataVector(b, one()), T.createMetadataVector(b, one()), T.createDigestVector(b, one()));
    });
    expectProtocolError(() => decodeRequest(MessageType.CreateAndSealBatchRequest, body), /parallel vectors differ/);
  });

  it('a delete count that disagrees with the ids', () => {
    const body = raw((b) => {
      const T = fb.plasma_flatbuf_PlasmaDeleteRequest;
      return T.createPlasmaDeleteRequest(b, 3, T.createObjectIdsVector(b, [b.createString(ids.ones.bytes)]));
    });
    expectProtocolError(() => decodeRequest(MessageType.DeleteRequest, body), /count 3, object_ids 1/);
  });
});

describe('replies the client must refuse (a C++ client would crash on them)', () => {
  it('a GetReply without store_fds or mmap_sizes', () => {
    const body = raw((b) => {
      const T = fb.plasma_flatbuf_PlasmaGetReply;
      const idVec = T.createObjectIdsVector(b, []);
      T.startPlasmaObjectsVector(b, 0);
      const objs = b.endVector();
      T.startPlasmaGetReply(b);
      T.addObjectIds(b, idVec);
      T.addPlasmaObjects(b, objs);
      return T.endPlasmaGetReply(b);
    });
    expectProtocolError(() => decodeReply(MessageType.GetReply, body), /store_fds is missing/);
  });

  it('a GetReply whose ids and objects differ in length', () => {
    const body = raw((b) => {
      const T = fb.plasma_flatbuf_PlasmaGetReply;
      const idVec = T.createObjectIdsVector(b, [b.createString(ids.ones.bytes)]);
      T.startPlasmaObjectsVector(b, 0);
      const objs = b.endVector();
      return T.createPlasmaGetReply(b, idVec, objs, T.createStoreFdsVector(b, []), T.createMmapSizesVector(b, []), T.createHandlesVector(b, []));
    });
    expectProtocolError(() => decodeReply(MessageType.GetReply, body), /object_ids 1, plasma_objects 0/);
  });

  it('a CreateReply without plasma_object', () => {
    const body = raw((b) => {
      const T = fb.plasma_flatbuf_PlasmaCreateReply;
      const id = b.createString(ids.ones.bytes);
      T.startPlasmaCreateReply(b);
      T.addObjectId(b, id);
      return T.endPlasmaCreateReply(b);
    });
    expectProtocolError(() => decodeReply(MessageType.CreateReply, body), /plasma_object is missing/);
  });

  it.each([4, 5, 6, -1])('error %i in a SealReply', (error) => {
    const body = raw((b) => fb.plasma_flatbuf_PlasmaSealReply.createPlasmaSealReply(b, b.createString(ids.ones.bytes), error));
    expectProtocolError(() => decodeReply(MessageType.SealReply, body), /not 0–3/);
  });

  it('a DeleteReply whose count disagrees, or with an unknown error code', () => {
    const make = (count: number, errors: number[]) =>
      raw((b) => {
        const T = fb.plasma_flatbuf_PlasmaDeleteReply;
        const idVec = T.createObjectIdsVector(b, errors.map(() => b.createString(ids.ones.bytes)));
        return T.createPlasmaDeleteReply(b, count, idVec, T.createErrorsVector(b, errors));
      });
    expectProtocolError(() => decodeReply(MessageType.DeleteReply, make(3, [0, 0])), /parallel vectors differ/);
    expectProtocolError(() => decodeReply(MessageType.DeleteReply, make(1, [6])), /not 0–5/);
  });

  const info = (b: Builder, withDigest: boolean) => {
    const id = b.createString(ids.ones.bytes);
    const T = fb.plasma_flatbuf_ObjectInfo;
    T.startObjectInfo(b);
    T.addObjectId(b, id);
    T.addIsDeletion(b, true);
    if (withDigest) T.addDigest(b, b.createString(new Uint8Array(0)));
    return T.endObjectInfo(b);
  };

  it('a ListReply entry without digest; a notification may omit it (deletions)', () => {
    const list = raw((b) => {
      const T = fb.plasma_flatbuf_PlasmaListReply;
      return T.createPlasmaListReply(b, T.createObjectsVector(b, [info(b, false)]));
    });
    expectProtocolError(() => decodeReply(MessageType.ListReply, list), /digest is missing/);
    const note = raw((b) => {
      const T = fb.plasma_flatbuf_PlasmaNotification;
      return T.createPlasmaNotification(b, T.createObjectInfoVector(b, [info(b, false)]));
    });
    expect(decodeNotification(note)).toEqual([{ ...infos.deletionInfo, objectId: ids.ones }]);
  });

  it('a notification or ListReply without its vector', () => {
    const empty = raw((b) => {
      b.startObject(1);
      return b.endObject();
    });
    expectProtocolError(() => decodeNotification(empty), /object_info is missing/);
    expectProtocolError(() => decodeReply(MessageType.ListReply, empty), /objects is missing/);
    expectProtocolError(() => decodeReply(MessageType.GetDebugStringReply, empty), /debug_string is missing/);
    expectProtocolError(() => decodeReply(MessageType.SealReply, empty), /got none/);
  });

  it('a negative memory capacity', () => {
    const body = raw((b) => fb.plasma_flatbuf_PlasmaConnectReply.createPlasmaConnectReply(b, -1n));
    expectProtocolError(() => decodeReply(MessageType.ConnectReply, body), /memory_capacity/);
  });
});

describe('encoders refuse values that would crash a C++ client', () => {
  const spec = { segmentIndex: 1, dataOffset: 0, dataSize: 1, metadataOffset: 1, metadataSize: 0, deviceNum: 0 };

  it('error codes outside 0–3 in single-error replies, outside 0–5 in DeleteReply', () => {
    for (const error of [4, 5, -1, 1.5]) {
      expect(() => encodeReply({ kind: 'seal', objectId: ids.ones, error: error as 0 })).toThrow(RangeError);
      expect(() => encodeReply({ kind: 'setOptions', error: error as 0 })).toThrow(RangeError);
    }
    expect(() => encodeReply({ kind: 'delete', objectIds: [ids.ones], errors: [6 as 0] })).toThrow(RangeError);
  });

  it('parallel vectors of different lengths', () => {
    expect(() => encodeReply({ kind: 'get', objectIds: [ids.ones], objects: [], storeFds: [], mmapSizes: [] })).toThrow(RangeError);
    expect(() => encodeReply({ kind: 'get', objectIds: [], objects: [], storeFds: [1], mmapSizes: [] })).toThrow(RangeError);
    expect(() => encodeReply({ kind: 'delete', objectIds: [ids.ones], errors: [] })).toThrow(RangeError);
    expect(() =>
      encodeRequest({ kind: 'createAndSealBatch', objectIds: [ids.ones], evictIfFull: true, data: [], metadata: [], digests: [] }),
    ).toThrow(RangeError);
  });

  it('sizes that are negative, fractional or unsafe', () => {
    for (const bad of [-1, 0.5, Number.NaN, 2 ** 53, Infinity]) {
      expect(() => encodeReply({ kind: 'create', objectId: ids.ones, object: { ...spec, dataSize: bad }, error: 0, storeFd: 1, mmapSize: 8 })).toThrow(RangeError);
      expect(() => encodeReply({ kind: 'connect', memoryCapacity: bad })).toThrow(RangeError);
      expect(() => encodeRequest({ kind: 'evict', numBytes: bad })).toThrow(RangeError);
    }
    expect(() => encodeReply({ kind: 'create', objectId: ids.ones, object: spec, error: 0, storeFd: 2 ** 31, mmapSize: 8 })).toThrow(RangeError);
  });
});
