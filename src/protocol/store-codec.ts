/**
 * The store's side of the wire: request frames in, reply frames and notifications out
 * (docs/protocol.md §2–§3, §5).
 *
 * `decodeRequest` trusts nothing: it verifies the flatbuffer's structure before reading it and
 * turns every violation into a ProtocolError (the store then closes that connection, §13).
 * `encodeReply` always writes the fields the C++ client dereferences without checking (§2.6).
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
  plasma_flatbuf_PlasmaRefreshLRUReply as RefreshLruReplyFb,
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
  type Reply,
  type Request,
  ProtocolError,
  messageTypeName,
} from './messages.js';
import { Shapes } from './table-shapes.js';
import {
  BYTES,
  binary,
  builderFor,
  byteBuffer,
  clampedNumber,
  copyOf,
  createBinary,
  createBinaryVector,
  digestFrom,
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

interface RequestDecoder {
  readonly shape: TableShape;
  readonly read: (bb: ByteBuffer) => Request;
}

const requestDecoders = new Map<number, RequestDecoder>([
  [MessageType.ConnectRequest, { shape: Shapes.PlasmaConnectRequest, read: () => ({ kind: 'connect' }) }],
  [MessageType.ListRequest, { shape: Shapes.PlasmaListRequest, read: () => ({ kind: 'list' }) }],
  [MessageType.SubscribeRequest, { shape: Shapes.PlasmaSubscribeRequest, read: () => ({ kind: 'subscribe' }) }],
  [
    MessageType.GetDebugStringRequest,
    { shape: Shapes.PlasmaGetDebugStringRequest, read: () => ({ kind: 'debugString' }) },
  ],
  [
    MessageType.CreateRequest,
    {
      shape: Shapes.PlasmaCreateRequest,
      read: (bb) => {
        const m = CreateRequestFb.getRootAsPlasmaCreateRequest(bb);
        return {
          kind: 'create',
          objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaCreateRequest.object_id'),
          evictIfFull: m.evictIfFull(),
          // uint64 sizes beyond any real object are clamped: the store answers OutOfMemory (§13).
          dataSize: clampedNumber(m.dataSize()),
          metadataSize: clampedNumber(m.metadataSize()),
          deviceNum: m.deviceNum(),
        };
      },
    },
  ],
  [
    MessageType.CreateAndSealRequest,
    {
      shape: Shapes.PlasmaCreateAndSealRequest,
      read: (bb) => {
        const m = CreateAndSealRequestFb.getRootAsPlasmaCreateAndSealRequest(bb);
        return {
          kind: 'createAndSeal',
          objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaCreateAndSealRequest.object_id'),
          evictIfFull: m.evictIfFull(),
          data: binary(m.data(BYTES)),
          metadata: binary(m.metadata(BYTES)),
          // §3.4: the reference store requires exactly 8 bytes here.
          digest: digestFrom(m.digest(BYTES), 'PlasmaCreateAndSealRequest.digest'),
        };
      },
    },
  ],
  [
    MessageType.CreateAndSealBatchRequest,
    {
      shape: Shapes.PlasmaCreateAndSealBatchRequest,
      read: (bb) => {
        const m = CreateAndSealBatchRequestFb.getRootAsPlasmaCreateAndSealBatchRequest(bb);
        sameLengths('PlasmaCreateAndSealBatchRequest', {
          object_ids: m.objectIdsLength(),
          data: m.dataLength(),
          metadata: m.metadataLength(),
          digest: m.digestLength(),
        });
        return {
          kind: 'createAndSealBatch',
          objectIds: objectIdList(
            m.objectIdsLength(),
            (i) => m.objectIds(i, BYTES),
            'PlasmaCreateAndSealBatchRequest.object_ids',
          ),
          evictIfFull: m.evictIfFull(),
          data: listOf(m.dataLength(), (i) => binary(m.data(i, BYTES))),
          metadata: listOf(m.metadataLength(), (i) => binary(m.metadata(i, BYTES))),
          // §3.5: Arrow's client hashes the wrong memory here; keep whatever arrives.
          digests: listOf(m.digestLength(), (i) => copyOf(m.digest(i, BYTES))),
        };
      },
    },
  ],
  [
    MessageType.AbortRequest,
    {
      shape: Shapes.PlasmaAbortRequest,
      read: (bb) => {
        const m = AbortRequestFb.getRootAsPlasmaAbortRequest(bb);
        return { kind: 'abort', objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaAbortRequest.object_id') };
      },
    },
  ],
  [
    MessageType.SealRequest,
    {
      shape: Shapes.PlasmaSealRequest,
      read: (bb) => {
        const m = SealRequestFb.getRootAsPlasmaSealRequest(bb);
        return {
          kind: 'seal',
          objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaSealRequest.object_id'),
          digest: digestFrom(m.digest(BYTES), 'PlasmaSealRequest.digest'),
        };
      },
    },
  ],
  [
    MessageType.GetRequest,
    {
      shape: Shapes.PlasmaGetRequest,
      read: (bb) => {
        const m = GetRequestFb.getRootAsPlasmaGetRequest(bb);
        return {
          kind: 'get',
          objectIds: objectIdList(m.objectIdsLength(), (i) => m.objectIds(i, BYTES), 'PlasmaGetRequest.object_ids'),
          // §14: any int64 is legal; −1 survives, huge values clamp, other negatives act like 0.
          timeoutMs: clampedNumber(m.timeoutMs()),
        };
      },
    },
  ],
  [
    MessageType.ReleaseRequest,
    {
      shape: Shapes.PlasmaReleaseRequest,
      read: (bb) => {
        const m = ReleaseRequestFb.getRootAsPlasmaReleaseRequest(bb);
        return { kind: 'release', objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaReleaseRequest.object_id') };
      },
    },
  ],
  [
    MessageType.DeleteRequest,
    {
      shape: Shapes.PlasmaDeleteRequest,
      read: (bb) => {
        const m = DeleteRequestFb.getRootAsPlasmaDeleteRequest(bb);
        // The reference store iterates by `count`; a mismatch would read past the vector.
        sameLengths('PlasmaDeleteRequest', { count: m.count(), object_ids: m.objectIdsLength() });
        return {
          kind: 'delete',
          objectIds: objectIdList(m.objectIdsLength(), (i) => m.objectIds(i, BYTES), 'PlasmaDeleteRequest.object_ids'),
        };
      },
    },
  ],
  [
    MessageType.ContainsRequest,
    {
      shape: Shapes.PlasmaContainsRequest,
      read: (bb) => {
        const m = ContainsRequestFb.getRootAsPlasmaContainsRequest(bb);
        return { kind: 'contains', objectId: objectIdFrom(m.objectId(BYTES), 'PlasmaContainsRequest.object_id') };
      },
    },
  ],
  [
    MessageType.EvictRequest,
    {
      shape: Shapes.PlasmaEvictRequest,
      read: (bb) => {
        // The reference store reads this uint64 into an int64: "negative" requests evict nothing,
        // and anything beyond the safe range means "everything" just as well.
        const asSigned = BigInt.asIntN(64, EvictRequestFb.getRootAsPlasmaEvictRequest(bb).numBytes());
        return { kind: 'evict', numBytes: asSigned < 0n ? 0 : clampedNumber(asSigned) };
      },
    },
  ],
  [
    MessageType.SetOptionsRequest,
    {
      shape: Shapes.PlasmaSetOptionsRequest,
      read: (bb) => {
        const m = SetOptionsRequestFb.getRootAsPlasmaSetOptionsRequest(bb);
        return {
          kind: 'setOptions',
          // A display name (it labels the client's LRU in the debug string): text, not bytes.
          clientName: new TextDecoder().decode(binary(m.clientName(BYTES))),
          outputMemoryQuota: safeNumber(m.outputMemoryQuota(), 'PlasmaSetOptionsRequest.output_memory_quota'),
        };
      },
    },
  ],
  [
    MessageType.RefreshLRURequest,
    {
      shape: Shapes.PlasmaRefreshLRURequest,
      read: (bb) => {
        const m = RefreshLruRequestFb.getRootAsPlasmaRefreshLRURequest(bb);
        return {
          kind: 'refreshLru',
          objectIds: objectIdList(m.objectIdsLength(), (i) => m.objectIds(i, BYTES), 'PlasmaRefreshLRURequest.object_ids'),
        };
      },
    },
  ],
]);

/**
 * Decodes one request frame body. Throws ProtocolError for a type a client may not send (replies,
 * the unused 24–27, anything outside 1–35) and for any malformed body.
 *
 * Inline payloads (createAndSeal data/metadata, batch data/metadata) are views into `body`:
 * copy them before `body` is reused. Ids and digests are copies.
 */
export function decodeRequest(type: number, body: Uint8Array): Request {
  const decoder = requestDecoders.get(type);
  if (decoder === undefined) {
    throw new ProtocolError(`message type ${type} (${messageTypeName(type)}) is not a request this store handles`);
  }
  verifyRoot(body, decoder.shape);
  return decoder.read(byteBuffer(body));
}

// ---------------------------------------------------------------------------------------------
// Replies

/** int64 −1 as written into PlasmaObjectSpec.data_size for an unavailable object (§3.6). */
const NOT_AVAILABLE = -1n;

function replyError(error: number, where: string): number {
  // §2.2: anything but 0–3 in a single-error reply makes the C++ client abort.
  if (!Number.isInteger(error) || error < 0 || error > 3) throw new RangeError(`${where}: error ${error} is not 0–3`);
  return error;
}

function deleteError(error: number, i: number): number {
  if (!Number.isInteger(error) || error < 0 || error > 5) {
    throw new RangeError(`DeleteReply.errors[${i}]: ${error} is not 0–5`);
  }
  return error;
}

/** Writes one PlasmaObjectSpec in place; must come right before the field or vector slot using it. */
function objectSpec(b: Builder, spec: ObjectSpec | null, where: string): number {
  if (spec === null) return ObjectSpecFb.createPlasmaObjectSpec(b, 0, 0n, NOT_AVAILABLE, 0n, 0n, 0);
  return ObjectSpecFb.createPlasmaObjectSpec(
    b,
    int32(spec.segmentIndex, `${where}.segmentIndex`),
    int64(spec.dataOffset, `${where}.dataOffset`),
    int64(spec.dataSize, `${where}.dataSize`),
    int64(spec.metadataOffset, `${where}.metadataOffset`),
    int64(spec.metadataSize, `${where}.metadataSize`),
    int32(spec.deviceNum, `${where}.deviceNum`),
  );
}

/** One ObjectInfo table; object_id and digest are always present (§2.6). */
function objectInfo(b: Builder, info: ObjectInfo, where: string): number {
  const id = createBinary(b, info.objectId.bytes);
  const digest = createBinary(b, info.digest);
  ObjectInfoFb.startObjectInfo(b);
  ObjectInfoFb.addObjectId(b, id);
  // −1 is tolerated for sizes: some stores report deletions that way (§5.3).
  ObjectInfoFb.addDataSize(b, int64(info.dataSize, `${where}.dataSize`, -1));
  ObjectInfoFb.addMetadataSize(b, int64(info.metadataSize, `${where}.metadataSize`, -1));
  ObjectInfoFb.addRefCount(b, int32(info.refCount, `${where}.refCount`, 0));
  ObjectInfoFb.addCreateTime(b, int64(info.createTime, `${where}.createTime`, -Number.MAX_SAFE_INTEGER));
  ObjectInfoFb.addConstructDuration(b, int64(info.constructDuration, `${where}.constructDuration`, -1));
  ObjectInfoFb.addDigest(b, digest);
  ObjectInfoFb.addIsDeletion(b, info.isDeletion);
  return ObjectInfoFb.endObjectInfo(b);
}

function objectInfoVector(b: Builder, infos: readonly ObjectInfo[], where: string): number {
  const offsets = infos.map((info, i) => objectInfo(b, info, `${where}[${i}]`));
  return ListReplyFb.createObjectsVector(b, offsets);
}

function encodeGetReply(b: Builder, reply: Extract<Reply, { kind: 'get' }>): number {
  if (reply.objects.length !== reply.objectIds.length) {
    throw new RangeError(`GetReply: ${reply.objectIds.length} ids but ${reply.objects.length} objects`);
  }
  if (reply.storeFds.length !== reply.mmapSizes.length) {
    throw new RangeError(`GetReply: ${reply.storeFds.length} store fds but ${reply.mmapSizes.length} mmap sizes`);
  }
  const ids = createBinaryVector(b, idBytes(reply.objectIds));
  GetReplyFb.startPlasmaObjectsVector(b, reply.objects.length);
  for (let i = reply.objects.length - 1; i >= 0; i--) objectSpec(b, reply.objects[i]!, `GetReply.objects[${i}]`);
  const objects = b.endVector();
  const fds = GetReplyFb.createStoreFdsVector(b, reply.storeFds.map((fd, i) => int32(fd, `GetReply.storeFds[${i}]`)));
  const sizes = GetReplyFb.createMmapSizesVector(b, reply.mmapSizes.map((n, i) => int64(n, `GetReply.mmapSizes[${i}]`)));
  const handles = GetReplyFb.createHandlesVector(b, []);
  return GetReplyFb.createPlasmaGetReply(b, ids, objects, fds, sizes, handles);
}

function encodeCreateReply(b: Builder, reply: Extract<Reply, { kind: 'create' }>): number {
  const error = replyError(reply.error, 'CreateReply');
  const id = createBinary(b, reply.objectId.bytes);
  CreateReplyFb.startPlasmaCreateReply(b);
  CreateReplyFb.addObjectId(b, id);
  if (error === 0) {
    CreateReplyFb.addPlasmaObject(b, objectSpec(b, reply.object, 'CreateReply.object'));
    CreateReplyFb.addStoreFd(b, int32(reply.storeFd, 'CreateReply.storeFd'));
    CreateReplyFb.addMmapSize(b, int64(reply.mmapSize, 'CreateReply.mmapSize'));
  } else {
    // §3.2: on error the reference store sends a zeroed struct (still present), fd 0, size 0.
    CreateReplyFb.addPlasmaObject(b, ObjectSpecFb.createPlasmaObjectSpec(b, 0, 0n, 0n, 0n, 0n, 0));
    CreateReplyFb.addError(b, error);
  }
  return CreateReplyFb.endPlasmaCreateReply(b);
}

function encodeDeleteReply(b: Builder, reply: Extract<Reply, { kind: 'delete' }>): number {
  if (reply.errors.length !== reply.objectIds.length) {
    throw new RangeError(`DeleteReply: ${reply.objectIds.length} ids but ${reply.errors.length} errors`);
  }
  const ids = createBinaryVector(b, idBytes(reply.objectIds));
  const errors = DeleteReplyFb.createErrorsVector(b, reply.errors.map(deleteError));
  DeleteReplyFb.startPlasmaDeleteReply(b);
  DeleteReplyFb.addCount(b, reply.objectIds.length);
  DeleteReplyFb.addObjectIds(b, ids);
  DeleteReplyFb.addErrors(b, errors);
  return DeleteReplyFb.endPlasmaDeleteReply(b);
}

/** Encodes a reply frame body together with its message type. */
export function encodeReply(reply: Reply): { type: MessageTypeCode; body: Uint8Array } {
  const b = builderFor();
  let type: MessageTypeCode;
  let root: number;
  switch (reply.kind) {
    case 'connect':
      type = MessageType.ConnectReply;
      root = ConnectReplyFb.createPlasmaConnectReply(b, int64(reply.memoryCapacity, 'ConnectReply.memoryCapacity'));
      break;
    case 'create':
      type = MessageType.CreateReply;
      root = encodeCreateReply(b, reply);
      break;
    case 'createAndSeal':
      type = MessageType.CreateAndSealReply;
      root = CreateAndSealReplyFb.createPlasmaCreateAndSealReply(b, replyError(reply.error, 'CreateAndSealReply'));
      break;
    case 'createAndSealBatch':
      type = MessageType.CreateAndSealBatchReply;
      root = CreateAndSealBatchReplyFb.createPlasmaCreateAndSealBatchReply(
        b,
        replyError(reply.error, 'CreateAndSealBatchReply'),
      );
      break;
    case 'abort':
      type = MessageType.AbortReply;
      root = AbortReplyFb.createPlasmaAbortReply(b, createBinary(b, reply.objectId.bytes));
      break;
    case 'seal':
      type = MessageType.SealReply;
      root = SealReplyFb.createPlasmaSealReply(
        b,
        createBinary(b, reply.objectId.bytes),
        replyError(reply.error, 'SealReply'),
      );
      break;
    case 'get':
      type = MessageType.GetReply;
      root = encodeGetReply(b, reply);
      break;
    case 'delete':
      type = MessageType.DeleteReply;
      root = encodeDeleteReply(b, reply);
      break;
    case 'contains':
      type = MessageType.ContainsReply;
      root = ContainsReplyFb.createPlasmaContainsReply(b, createBinary(b, reply.objectId.bytes), reply.hasObject ? 1 : 0);
      break;
    case 'list':
      type = MessageType.ListReply;
      root = ListReplyFb.createPlasmaListReply(b, objectInfoVector(b, reply.objects, 'ListReply.objects'));
      break;
    case 'evict':
      type = MessageType.EvictReply;
      root = EvictReplyFb.createPlasmaEvictReply(b, int64(reply.numBytes, 'EvictReply.numBytes'));
      break;
    case 'setOptions':
      type = MessageType.SetOptionsReply;
      root = SetOptionsReplyFb.createPlasmaSetOptionsReply(b, replyError(reply.error, 'SetOptionsReply'));
      break;
    case 'debugString':
      type = MessageType.GetDebugStringReply;
      root = DebugStringReplyFb.createPlasmaGetDebugStringReply(b, b.createString(reply.debugString));
      break;
    case 'refreshLru':
      type = MessageType.RefreshLRUReply;
      RefreshLruReplyFb.startPlasmaRefreshLRUReply(b);
      root = RefreshLruReplyFb.endPlasmaRefreshLRUReply(b);
      break;
    default: {
      const unknown: never = reply;
      throw new TypeError(`no encoder for reply ${JSON.stringify((unknown as { kind: unknown }).kind)}`);
    }
  }
  return { type, body: finish(b, root) };
}

/**
 * Encodes a PlasmaNotification body (§5.2): one info per sealed or deleted object, or N for a
 * batch seal. The 8-byte native-endian length prefix is added by the channel's 'length64' framing.
 */
export function encodeNotification(infos: readonly ObjectInfo[]): Uint8Array {
  const b = builderFor();
  const offsets = infos.map((info, i) => objectInfo(b, info, `Notification.objectInfo[${i}]`));
  const vector = NotificationFb.createObjectInfoVector(b, offsets);
  return finish(b, NotificationFb.createPlasmaNotification(b, vector));
}
