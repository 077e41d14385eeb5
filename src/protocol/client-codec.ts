/**
 * The client's side of the wire: request frames out, reply frames and notifications in
 * (docs/protocol.md §2–§3, §5).
 *
 * `encodeRequest` writes what the C++ client writes: every string and vector present (possibly
 * empty), scalars omitted when they equal their default. `decodeReply` verifies the flatbuffer
 * and insists on the fields a C++ client would dereference blindly (§2.6), so a store bug shows up
 * here as a ProtocolError instead of silently wrong values.
 */
import type { Builder, ByteBuffer } from 'flatbuffers';
import {
  plasma_flatbuf_ObjectInfo as ObjectInfoFb,
  plasma_flatbuf_PlasmaAbortReply as AbortReplyFb,
  plasma_flatbuf_PlasmaAbortRequest as AbortRequestFb,
  plasma_flatbuf_PlasmaConnectReply as ConnectReplyFb,
  plasma_flatbuf_PlasmaContainsReply as ContainsReplyFb,
  plasma_flatbuf_PlasmaContainsRequest as ContainsRequestFb,
  plasma_flatbuf_PlasmaCreateAndSealBatchReply as CreateAndSealBatchReplyFb,
  plasma_flatbuf_PlasmaCreateAndSealBatchRequest as CreateAndSealBatchRequestFb,
  plasma_flatbuf_PlasmaCreateAndSealReply as CreateAndSealReplyFb,
  plasma_flatbuf_PlasmaCreateAndSealRequest as CreateAndSealRequestFb,
  plasma_flatbuf_PlasmaCreateReply as CreateReplyFb,
  plasma_flatbuf_PlasmaCreateRequest as CreateRequestFb,
  plasma_flatbuf_PlasmaDeleteReply as DeleteReplyFb,
  plasma_flatbuf_PlasmaDeleteRequest as DeleteRequestFb,
  plasma_flatbuf_PlasmaEvictReply as EvictReplyFb,
  plasma_flatbuf_PlasmaEvictRequest as EvictRequestFb,
  plasma_flatbuf_PlasmaGetDebugStringReply as DebugStringReplyFb,
  plasma_flatbuf_PlasmaGetReply as GetReplyFb,
  plasma_flatbuf_PlasmaGetRequest as GetRequestFb,
  plasma_flatbuf_PlasmaListReply as ListReplyFb,
  plasma_flatbuf_PlasmaNotification as NotificationFb,
  plasma_flatbuf_PlasmaObjectSpec as ObjectSpecFb,
  plasma_flatbuf_PlasmaRefreshLRURequest as RefreshLruRequestFb,
  plasma_flatbuf_PlasmaReleaseRequest as ReleaseRequestFb,
  plasma_flatbuf_PlasmaSealReply as SealReplyFb,
  plasma_flatbuf_PlasmaSealRequest as SealRequestFb,
  plasma_flatbuf_PlasmaSetOptionsReply as SetOptionsReplyFb,
  plasma_flatbuf_PlasmaSetOptionsRequest as SetOptionsRequestFb,
} from './generated/plasma_generated.js';
import { type TableShape, verifyRoot } from './flatbuffer-verifier.js';
import {
  MessageType,
  type MessageTypeCode,
  type ObjectInfo,
  type ObjectSpec,
  type PlasmaErrorCode,
  type Reply,
  type ReplyErrorCode,
  type Request,
  ProtocolError,
  messageTypeName,
} from './messages.js';
import type { ObjectId } from './object-id.js';
import { Shapes } from './table-shapes.js';
import {
  BYTES,
  binary,
  builderFor,
  byteBuffer,
  copyOf,
  createBinary,
  createBinaryVector,
  finish,
  idBytes,
  int32,
  int64,
  listOf,
  objectIdFrom,
  objectIdList,
  safeNumber,
  sameLengths,
} from './wire-values.js';

// ---------------------------------------------------------------------------------------------
// Requests

function emptyTable(b: Builder): number {
  b.startObject(0);
  return b.endObject();
}

function idVector(b: Builder, req: { objectIds: readonly ObjectId[] }): number {
  return createBinaryVector(b, idBytes(req.objectIds));
}

function encodeBatch(b: Builder, req: Extract<Request, { kind: 'createAndSealBatch' }>): number {
  const n = req.objectIds.length;
  if (req.data.length !== n || req.metadata.length !== n || req.digests.length !== n) {
    throw new RangeError(
      `CreateAndSealBatchRequest: ${n} ids, ${req.data.length} data, ` +
        `${req.metadata.length} metadata, ${req.digests.length} digests`,
    );
  }
  const ids = idVector(b, req);
  const data = createBinaryVector(b, req.data);
  const metadata = createBinaryVector(b, req.metadata);
  const digests = createBinaryVector(b, req.digests);
  return CreateAndSealBatchRequestFb.createPlasmaCreateAndSealBatchRequest(b, ids, req.evictIfFull, data, metadata, digests);
}

function inlineBytes(req: Request): number {
  if (req.kind === 'createAndSeal') return req.data.byteLength + req.metadata.byteLength;
  if (req.kind === 'createAndSealBatch') {
    return [...req.data, ...req.metadata].reduce((sum, bytes) => sum + bytes.byteLength + 8, 0);
  }
  return 0;
}

/** Encodes a request frame body together with its message type. */
export function encodeRequest(req: Request): { type: MessageTypeCode; body: Uint8Array } {
  const b = builderFor(inlineBytes(req));
  let type: MessageTypeCode;
  let root: number;
  switch (req.kind) {
    case 'connect':
      type = MessageType.ConnectRequest;
      root = emptyTable(b);
      break;
    case 'create':
      type = MessageType.CreateRequest;
      root = CreateRequestFb.createPlasmaCreateRequest(
        b,
        createBinary(b, req.objectId.bytes),
        req.evictIfFull,
        int64(req.dataSize, 'CreateRequest.dataSize'),
        int64(req.metadataSize, 'CreateRequest.metadataSize'),
        int32(req.deviceNum, 'CreateRequest.deviceNum'),
      );
      break;
    case 'createAndSeal': {
      type = MessageType.CreateAndSealRequest;
      const id = createBinary(b, req.objectId.bytes);
      const data = createBinary(b, req.data);
      const metadata = createBinary(b, req.metadata);
      const digest = createBinary(b, req.digest);
      root = CreateAndSealRequestFb.createPlasmaCreateAndSealRequest(b, id, req.evictIfFull, data, metadata, digest);
      break;
    }
    case 'createAndSealBatch':
      type = MessageType.CreateAndSealBatchRequest;
      root = encodeBatch(b, req);
      break;
    case 'abort':
      type = MessageType.AbortRequest;
      root = AbortRequestFb.createPlasmaAbortRequest(b, createBinary(b, req.objectId.bytes));
      break;
    case 'seal': {
      type = MessageType.SealRequest;
      const id = createBinary(b, req.objectId.bytes);
      root = SealRequestFb.createPlasmaSealRequest(b, id, createBinary(b, req.digest));
      break;
    }
    case 'get':
      type = MessageType.GetRequest;
      root = GetRequestFb.createPlasmaGetRequest(
        b,
        idVector(b, req),
        int64(req.timeoutMs, 'GetRequest.timeoutMs', -Number.MAX_SAFE_INTEGER),
      );
      break;
    case 'release':
      type = MessageType.ReleaseRequest;
      root = ReleaseRequestFb.createPlasmaReleaseRequest(b, createBinary(b, req.objectId.bytes));
      break;
    case 'delete':
      type = MessageType.DeleteRequest;
      root = DeleteRequestFb.createPlasmaDeleteRequest(b, req.objectIds.length, idVector(b, req));
      break;
    case 'contains':
      type = MessageType.ContainsRequest;
      root = ContainsRequestFb.createPlasmaContainsRequest(b, createBinary(b, req.objectId.bytes));
      break;
    case 'list':
      type = MessageType.ListRequest;
      root = emptyTable(b);
      break;
    case 'evict':
      type = MessageType.EvictRequest;
      root = EvictRequestFb.createPlasmaEvictRequest(b, int64(req.numBytes, 'EvictRequest.numBytes'));
      break;
    case 'subscribe':
      type = MessageType.SubscribeRequest;
      root = emptyTable(b);
      break;
    case 'setOptions':
      type = MessageType.SetOptionsRequest;
      root = SetOptionsRequestFb.createPlasmaSetOptionsRequest(
        b,
        b.createString(req.clientName),
        int64(req.outputMemoryQuota, 'SetOptionsRequest.outputMemoryQuota'),
      );
      break;
    case 'debugString':
      type = MessageType.GetDebugStringRequest;
      root = emptyTable(b);
      break;
    case 'refreshLru':
      type = MessageType.RefreshLRURequest;
      root = RefreshLruRequestFb.createPlasmaRefreshLRURequest(b, idVector(b, req));
      break;
    default: {
      const unknown: never = req;
      throw new TypeError(`no encoder for request ${JSON.stringify((unknown as { kind: unknown }).kind)}`);
    }
  }
  return { type, body: finish(b, root) };
}

// ---------------------------------------------------------------------------------------------
// Replies

/** A reply field the C++ client dereferences unchecked (§2.6) is missing. */
function required<T>(value: T | null, where: string): T {
  if (value === null) throw new ProtocolError(`${where} is missing (a C++ client would crash on it)`);
  return value;
}

/** Like `required`, for vector fields, whose accessors read an absent vector as empty. */
function requireField(bb: ByteBuffer, tablePos: number, slot: number, where: string): void {
  if (bb.__offset(tablePos, 4 + 2 * slot) === 0) required(null, where);
}

function replyError(error: number, where: string): ReplyErrorCode {
  if (error < 0 || error > 3) throw new ProtocolError(`${where}: error ${error} is not 0–3 (a C++ client would abort)`);
  return error as ReplyErrorCode;
}

function deleteError(error: number | null, where: string): PlasmaErrorCode {
  if (error === null || error < 0 || error > 5) throw new ProtocolError(`${where}: error ${error} is not 0–5`);
  return error as PlasmaErrorCode;
}

/** §3.6: data_size all-ones (int64 −1) marks an object the store could not provide. */
function isUnavailable(spec: ObjectSpecFb): boolean {
  return BigInt.asIntN(64, spec.dataSize()) === -1n;
}

function objectSpecFrom(spec: ObjectSpecFb, where: string): ObjectSpec {
  return {
    segmentIndex: spec.segmentIndex(),
    dataOffset: safeNumber(spec.dataOffset(), `${where}.data_offset`),
    dataSize: safeNumber(spec.dataSize(), `${where}.data_size`),
    metadataOffset: safeNumber(spec.metadataOffset(), `${where}.metadata_offset`),
    metadataSize: safeNumber(spec.metadataSize(), `${where}.metadata_size`),
    deviceNum: spec.deviceNum(),
  };
}

/** One ObjectInfo. List replies must carry a digest (§2.6); notifications may omit it (deletions). */
function objectInfoFrom(info: ObjectInfoFb, where: string, digestRequired: boolean): ObjectInfo {
  const digest = info.digest(BYTES);
  if (digestRequired) required(digest, `${where}.digest`);
  const minTime = -Number.MAX_SAFE_INTEGER;
  return {
    objectId: objectIdFrom(info.objectId(BYTES), `${where}.object_id`),
    dataSize: safeNumber(info.dataSize(), `${where}.data_size`, -1),
    metadataSize: safeNumber(info.metadataSize(), `${where}.metadata_size`, -1),
    refCount: info.refCount(),
    createTime: safeNumber(info.createTime(), `${where}.create_time`, minTime),
    constructDuration: safeNumber(info.constructDuration(), `${where}.construct_duration`, minTime),
    digest: copyOf(digest),
    isDeletion: info.isDeletion(),
  };
}

function decodeGetReply(bb: ByteBuffer): Reply {
  const m = GetReplyFb.getRootAsPlasmaGetReply(bb);
  const where = 'PlasmaGetReply';
  // An absent vector reads as length 0: presence has to be checked in the vtable.
  requireField(bb, m.bb_pos, 0, `${where}.object_ids`);
  requireField(bb, m.bb_pos, 1, `${where}.plasma_objects`);
  requireField(bb, m.bb_pos, 2, `${where}.store_fds`);
  requireField(bb, m.bb_pos, 3, `${where}.mmap_sizes`);
  sameLengths(where, { object_ids: m.objectIdsLength(), plasma_objects: m.plasmaObjectsLength() });
  sameLengths(where, { store_fds: m.storeFdsLength(), mmap_sizes: m.mmapSizesLength() });
  const spec = new ObjectSpecFb();
  return {
    kind: 'get',
    objectIds: objectIdList(m.objectIdsLength(), (i) => m.objectIds(i, BYTES), `${where}.object_ids`),
    objects: listOf(m.plasmaObjectsLength(), (i) => {
      const entry = m.plasmaObjects(i, spec)!;
      return isUnavailable(entry) ? null : objectSpecFrom(entry, `${where}.plasma_objects[${i}]`);
    }),
    storeFds: listOf(m.storeFdsLength(), (i) => m.storeFds(i)!),
    mmapSizes: listOf(m.mmapSizesLength(), (i) => safeNumber(m.mmapSizes(i)!, `${where}.mmap_sizes[${i}]`)),
  };
}

interface ReplyDecoder {
  readonly shape: TableShape;
  readonly read: (bb: ByteBuffer) => Reply;
}

const replyDecoders = new Map<number, ReplyDecoder>([
  [
    MessageType.ConnectReply,
    {
      shape: Shapes.PlasmaConnectReply,
      read: (bb) => {
        const m = ConnectReplyFb.getRootAsPlasmaConnectReply(bb);
        return { kind: 'connect', memoryCapacity: safeNumber(m.memoryCapacity(), 'PlasmaConnectReply.memory_capacity') };
      },
    },
  ],
  [
    MessageType.CreateReply,
    {
      shape: Shapes.PlasmaCreateReply,
      read: (bb) => {
        const m = CreateReplyFb.getRootAsPlasmaCreateReply(bb);
        const where = 'PlasmaCreateReply';
        return {
          kind: 'create',
          objectId: objectIdFrom(m.objectId(BYTES), `${where}.object_id`),
          object: objectSpecFrom(required(m.plasmaObject(), `${where}.plasma_object`), `${where}.plasma_object`),
          error: replyError(m.error(), where),
          storeFd: m.storeFd(),
          mmapSize: safeNumber(m.mmapSize(), `${where}.mmap_size`),
        };
      },
    },
  ],
  [
    MessageType.CreateAndSealReply,
    {
      shape: Shapes.PlasmaCreateAndSealReply,
      read: (bb) => ({
        kind: 'createAndSeal',
        error: replyError(CreateAndSealReplyFb.getRootAsPlasmaCreateAndSealReply(bb).error(), 'PlasmaCreateAndSealReply'),
      }),
    },
  ],
  [
    MessageType.CreateAndSealBatchReply,
    {
      shape: Shapes.PlasmaCreateAndSealBatchReply,
      read: (bb) => ({
        kind: 'createAndSealBatch',
        error: replyError(
          CreateAndSealBatchReplyFb.getRootAsPlasmaCreateAndSealBatchReply(bb).error(),
          'PlasmaCreateAndSealBatchReply',
        ),
      }),
    },
  ],
  [
    MessageType.AbortReply,
    {
      shape: Shapes.PlasmaAbortReply,
      read: (bb) => ({
        kind: 'abort',
        objectId: objectIdFrom(AbortReplyFb.getRootAsPlasmaAbortReply(bb).objectId(BYTES), 'PlasmaAbortReply.object_id'),
      }),
    },
  ],
  [
    MessageType.SealReply,
    {
      shape: Shapes.PlasmaSealReply,
      read: (bb) => {
        const m = SealReplyFb.getRootAsPlasmaSealReply(bb);
        return {
          kind: 'seal',
          objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaSealReply.object_id'),
          error: replyError(m.error(), 'PlasmaSealReply'),
        };
      },
    },
  ],
  [MessageType.GetReply, { shape: Shapes.PlasmaGetReply, read: decodeGetReply }],
  [
    MessageType.DeleteReply,
    {
      shape: Shapes.PlasmaDeleteReply,
      read: (bb) => {
        const m = DeleteReplyFb.getRootAsPlasmaDeleteReply(bb);
        const where = 'PlasmaDeleteReply';
        // §2.6: the C++ client walks both vectors by `count`, unchecked.
        sameLengths(where, { count: m.count(), object_ids: m.objectIdsLength(), errors: m.errorsLength() });
        return {
          kind: 'delete',
          objectIds: objectIdList(m.objectIdsLength(), (i) => m.objectIds(i, BYTES), `${where}.object_ids`),
          errors: listOf(m.errorsLength(), (i) => deleteError(m.errors(i), `${where}.errors[${i}]`)),
        };
      },
    },
  ],
  [
    MessageType.ContainsReply,
    {
      shape: Shapes.PlasmaContainsReply,
      read: (bb) => {
        const m = ContainsReplyFb.getRootAsPlasmaContainsReply(bb);
        return {
          kind: 'contains',
          objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaContainsReply.object_id'),
          hasObject: m.hasObject() !== 0,
        };
      },
    },
  ],
  [
    MessageType.ListReply,
    {
      shape: Shapes.PlasmaListReply,
      read: (bb) => {
        const m = ListReplyFb.getRootAsPlasmaListReply(bb);
        requireField(bb, m.bb_pos, 0, 'PlasmaListReply.objects');
        const info = new ObjectInfoFb();
        return {
          kind: 'list',
          objects: listOf(m.objectsLength(), (i) =>
            objectInfoFrom(m.objects(i, info)!, `PlasmaListReply.objects[${i}]`, true),
          ),
        };
      },
    },
  ],
  [
    MessageType.EvictReply,
    {
      shape: Shapes.PlasmaEvictReply,
      read: (bb) => ({
        kind: 'evict',
        numBytes: safeNumber(EvictReplyFb.getRootAsPlasmaEvictReply(bb).numBytes(), 'PlasmaEvictReply.num_bytes'),
      }),
    },
  ],
  [
    MessageType.SetOptionsReply,
    {
      shape: Shapes.PlasmaSetOptionsReply,
      read: (bb) => ({
        kind: 'setOptions',
        error: replyError(SetOptionsReplyFb.getRootAsPlasmaSetOptionsReply(bb).error(), 'PlasmaSetOptionsReply'),
      }),
    },
  ],
  [
    MessageType.GetDebugStringReply,
    {
      shape: Shapes.PlasmaGetDebugStringReply,
      read: (bb) => {
        const text = DebugStringReplyFb.getRootAsPlasmaGetDebugStringReply(bb).debugString(BYTES);
        return {
          kind: 'debugString',
          debugString: new TextDecoder().decode(binary(required(text, 'PlasmaGetDebugStringReply.debug_string'))),
        };
      },
    },
  ],
  [MessageType.RefreshLRUReply, { shape: Shapes.PlasmaRefreshLRUReply, read: () => ({ kind: 'refreshLru' }) }],
]);

/**
 * Decodes one reply frame body. Throws ProtocolError for a type that is not a reply a store sends
 * (requests, ReleaseReply, 24–27, anything outside 1–35) and for any malformed body.
 */
export function decodeReply(type: number, body: Uint8Array): Reply {
  const decoder = replyDecoders.get(type);
  if (decoder === undefined) {
    throw new ProtocolError(`message type ${type} (${messageTypeName(type)}) is not a reply a store sends`);
  }
  verifyRoot(body, decoder.shape);
  return decoder.read(byteBuffer(body));
}

/**
 * Decodes a PlasmaNotification body (without its 8-byte length prefix, §5.2). Deletion infos
 * carry isDeletion = true; their sizes are whatever the store wrote (usually absent, i.e. 0).
 */
export function decodeNotification(body: Uint8Array): ObjectInfo[] {
  verifyRoot(body, Shapes.PlasmaNotification);
  const bb = byteBuffer(body);
  const m = NotificationFb.getRootAsPlasmaNotification(bb);
  requireField(bb, m.bb_pos, 0, 'PlasmaNotification.object_info');
  const info = new ObjectInfoFb();
  return listOf(m.objectInfoLength(), (i) =>
    objectInfoFrom(m.objectInfo(i, info)!, `PlasmaNotification.object_info[${i}]`, false),
  );
}
