/**
 * Sample messages for the codec tests: every request and reply kind, with ids that contain 0x00,
 * 0xff and invalid UTF-8, empty vectors, zero-size objects and unavailable Get entries.
 */
import type { ObjectInfo, Reply, Request } from '../../src/protocol/messages.js';
import { ObjectId } from '../../src/protocol/object-id.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

export const ids = {
  zeros: ObjectId.fromBytes(new Uint8Array(20)),
  ones: ObjectId.fromBytes(new Uint8Array(20).fill(0xff)),
  /** Invalid UTF-8 (lone continuation, overlong, surrogate) and embedded NULs. */
  mixed: ObjectId.fromBytes(bytes(0x00, 0xff, 0xc3, 0x28, 0x80, 0xed, 0xa0, 0x80, 0xc0, 0xaf, 0x00, 0x00, 1, 2, 3, 0xfe, 0xfd, 0x7f, 0x00, 0xff)),
  named: ObjectId.fromName('shuffle/7/part-3'),
};

export const digest = bytes(0x99, 0xe9, 0xd8, 0x51, 0x37, 0xdb, 0x46, 0xef);
const zeroDigest = new Uint8Array(8);

export const requests: Request[] = [
  { kind: 'connect' },
  { kind: 'create', objectId: ids.mixed, evictIfFull: true, dataSize: 50, metadataSize: 7, deviceNum: 0 },
  { kind: 'create', objectId: ids.zeros, evictIfFull: false, dataSize: 0, metadataSize: 0, deviceNum: 1 },
  { kind: 'create', objectId: ids.ones, evictIfFull: true, dataSize: Number.MAX_SAFE_INTEGER, metadataSize: 2 ** 40, deviceNum: 0 },
  {
    kind: 'createAndSeal',
    objectId: ids.mixed,
    evictIfFull: true,
    data: bytes(0, 1, 2, 0xff, 0xc3, 0x28),
    metadata: bytes(0x52, 0x41, 0x57),
    digest,
  },
  { kind: 'createAndSeal', objectId: ids.zeros, evictIfFull: false, data: bytes(), metadata: bytes(), digest: zeroDigest },
  {
    kind: 'createAndSealBatch',
    objectIds: [ids.zeros, ids.ones, ids.mixed],
    evictIfFull: true,
    data: [bytes(1, 2, 3), bytes(), new Uint8Array(1000).fill(0xab)],
    metadata: [bytes(), bytes(0), bytes(0xff, 0xfe)],
    // §3.5: batch digests are whatever the client computed; any length is accepted.
    digests: [digest, bytes(), bytes(1, 2, 3)],
  },
  { kind: 'createAndSealBatch', objectIds: [], evictIfFull: false, data: [], metadata: [], digests: [] },
  { kind: 'abort', objectId: ids.ones },
  { kind: 'seal', objectId: ids.mixed, digest },
  { kind: 'get', objectIds: [ids.zeros, ids.ones, ids.mixed, ids.zeros], timeoutMs: -1 },
  { kind: 'get', objectIds: [], timeoutMs: 0 },
  { kind: 'get', objectIds: [ids.named], timeoutMs: 1000 },
  { kind: 'get', objectIds: [ids.named], timeoutMs: -5 },
  { kind: 'release', objectId: ids.zeros },
  { kind: 'delete', objectIds: [ids.ones, ids.mixed] },
  { kind: 'delete', objectIds: [] },
  { kind: 'contains', objectId: ids.mixed },
  { kind: 'list' },
  { kind: 'evict', numBytes: 0 },
  { kind: 'evict', numBytes: 10_000_000 },
  { kind: 'subscribe' },
  { kind: 'setOptions', clientName: 'local', outputMemoryQuota: 5 * 2 ** 20 },
  { kind: 'setOptions', clientName: '', outputMemoryQuota: 0 },
  { kind: 'debugString' },
  { kind: 'refreshLru', objectIds: [ids.zeros, ids.mixed] },
  { kind: 'refreshLru', objectIds: [] },
];

const sealedInfo: ObjectInfo = {
  objectId: ids.mixed,
  dataSize: 50,
  metadataSize: 7,
  refCount: 1,
  createTime: 1_700_000_000,
  constructDuration: 2,
  digest,
  isDeletion: false,
};
const unsealedInfo: ObjectInfo = {
  objectId: ids.zeros,
  dataSize: 0,
  metadataSize: 0,
  refCount: 0,
  createTime: 1_700_000_001,
  constructDuration: -1,
  digest: bytes(),
  isDeletion: false,
};
export const deletionInfo: ObjectInfo = {
  objectId: ids.ones,
  dataSize: 0,
  metadataSize: 0,
  refCount: 0,
  createTime: 0,
  constructDuration: 0,
  digest: bytes(),
  isDeletion: true,
};
export const infos = { sealedInfo, unsealedInfo, deletionInfo };

const spec = { segmentIndex: 7, dataOffset: 64, dataSize: 50, metadataOffset: 114, metadataSize: 7, deviceNum: 0 };

export const replies: Reply[] = [
  { kind: 'connect', memoryCapacity: 10_000_000 },
  { kind: 'connect', memoryCapacity: 0 },
  { kind: 'create', objectId: ids.mixed, object: spec, error: 0, storeFd: 7, mmapSize: 2 ** 33 + 8 },
  {
    kind: 'create',
    objectId: ids.zeros,
    object: { segmentIndex: 3, dataOffset: 4096, dataSize: 0, metadataOffset: 4096, metadataSize: 0, deviceNum: 0 },
    error: 0,
    storeFd: 3,
    mmapSize: 4104,
  },
  { kind: 'createAndSeal', error: 0 },
  { kind: 'createAndSeal', error: 1 },
  { kind: 'createAndSealBatch', error: 3 },
  { kind: 'abort', objectId: ids.ones },
  { kind: 'seal', objectId: ids.mixed, error: 0 },
  { kind: 'seal', objectId: ids.zeros, error: 2 },
  {
    kind: 'get',
    objectIds: [ids.mixed, ids.zeros, ids.ones],
    objects: [spec, null, { ...spec, segmentIndex: 9, dataOffset: 0, dataSize: 0, metadataOffset: 0, metadataSize: 0 }],
    storeFds: [7, 9],
    mmapSizes: [1_000_008, 4104],
  },
  { kind: 'get', objectIds: [ids.named], objects: [null], storeFds: [], mmapSizes: [] },
  { kind: 'get', objectIds: [], objects: [], storeFds: [], mmapSizes: [] },
  { kind: 'delete', objectIds: [ids.ones, ids.mixed, ids.zeros], errors: [0, 4, 5] },
  { kind: 'delete', objectIds: [], errors: [] },
  { kind: 'contains', objectId: ids.mixed, hasObject: true },
  { kind: 'contains', objectId: ids.zeros, hasObject: false },
  { kind: 'list', objects: [sealedInfo, unsealedInfo] },
  { kind: 'list', objects: [] },
  { kind: 'evict', numBytes: 0 },
  { kind: 'evict', numBytes: 123_456_789 },
  { kind: 'setOptions', error: 0 },
  { kind: 'setOptions', error: 3 },
  { kind: 'debugString', debugString: 'num clients with quota: 0\n(global lru) used: 41.9431%\nünïcödé' },
  { kind: 'debugString', debugString: '' },
  { kind: 'refreshLru' },
];
