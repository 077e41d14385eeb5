/**
 * Typed Plasma messages (docs/protocol.md §2–§3). The codec turns frames into these values and back;
 * the store and the client only ever see these types, never flatbuffer builders.
 *
 * Sizes and offsets are JS numbers: the codec rejects int64 values beyond Number.MAX_SAFE_INTEGER
 * (no real object is that large), which keeps arithmetic in the store simple and exact.
 */
import { PlasmapoolError } from '../errors.js';
import type { ObjectId } from './object-id.js';

/** Frame header message types (§2.1). */
export const MessageType = {
  DisconnectClient: 0,
  CreateRequest: 1,
  CreateReply: 2,
  CreateAndSealRequest: 3,
  CreateAndSealReply: 4,
  AbortRequest: 5,
  AbortReply: 6,
  SealRequest: 7,
  SealReply: 8,
  GetRequest: 9,
  GetReply: 10,
  ReleaseRequest: 11,
  ReleaseReply: 12,
  DeleteRequest: 13,
  DeleteReply: 14,
  ContainsRequest: 15,
  ContainsReply: 16,
  ListRequest: 17,
  ListReply: 18,
  ConnectRequest: 19,
  ConnectReply: 20,
  EvictRequest: 21,
  EvictReply: 22,
  SubscribeRequest: 23,
  UnsubscribeRequest: 24,
  DataRequest: 25,
  DataReply: 26,
  Notification: 27,
  SetOptionsRequest: 28,
  SetOptionsReply: 29,
  GetDebugStringRequest: 30,
  GetDebugStringReply: 31,
  CreateAndSealBatchRequest: 32,
  CreateAndSealBatchReply: 33,
  RefreshLRURequest: 34,
  RefreshLRUReply: 35,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

/** The name of a message type code ('CreateRequest'), or 'unknown': for logs and error messages. */
export function messageTypeName(code: number): string {
  for (const [name, value] of Object.entries(MessageType)) if (value === code) return name;
  return 'unknown';
}

/** Plasma error codes (§2.2). 4 and 5 are only legal inside DeleteReply.errors. */
export const PlasmaError = {
  OK: 0,
  ObjectExists: 1,
  ObjectNotFound: 2,
  OutOfMemory: 3,
  ObjectNotSealed: 4,
  ObjectInUse: 5,
} as const;
export type PlasmaErrorCode = (typeof PlasmaError)[keyof typeof PlasmaError];
/** The errors a single-error reply may carry without crashing the C++ client (§2.2). */
export type ReplyErrorCode = 0 | 1 | 2 | 3;

/** Where an object lies (§2.3). */
export interface ObjectSpec {
  segmentIndex: number;
  dataOffset: number;
  dataSize: number;
  metadataOffset: number;
  metadataSize: number;
  deviceNum: number;
}

/** common.fbs ObjectInfo (§2.5). digest is empty for unsealed objects. */
export interface ObjectInfo {
  objectId: ObjectId;
  dataSize: number;
  metadataSize: number;
  refCount: number;
  createTime: number;
  constructDuration: number;
  digest: Uint8Array;
  isDeletion: boolean;
}

export type Request =
  | { kind: 'connect' }
  | { kind: 'create'; objectId: ObjectId; evictIfFull: boolean; dataSize: number; metadataSize: number; deviceNum: number }
  | { kind: 'createAndSeal'; objectId: ObjectId; evictIfFull: boolean; data: Uint8Array; metadata: Uint8Array; digest: Uint8Array }
  | {
      kind: 'createAndSealBatch';
      objectIds: ObjectId[];
      evictIfFull: boolean;
      data: Uint8Array[];
      metadata: Uint8Array[];
      digests: Uint8Array[];
    }
  | { kind: 'abort'; objectId: ObjectId }
  | { kind: 'seal'; objectId: ObjectId; digest: Uint8Array }
  /** timeoutMs: -1 waits forever, 0 answers at once, k > 0 waits up to k ms (int64 clamped to a safe number). */
  | { kind: 'get'; objectIds: ObjectId[]; timeoutMs: number }
  | { kind: 'release'; objectId: ObjectId }
  | { kind: 'delete'; objectIds: ObjectId[] }
  | { kind: 'contains'; objectId: ObjectId }
  | { kind: 'list' }
  | { kind: 'evict'; numBytes: number }
  | { kind: 'subscribe' }
  | { kind: 'setOptions'; clientName: string; outputMemoryQuota: number }
  | { kind: 'debugString' }
  | { kind: 'refreshLru'; objectIds: ObjectId[] };

export type Reply =
  | { kind: 'connect'; memoryCapacity: number }
  | { kind: 'create'; objectId: ObjectId; object: ObjectSpec; error: ReplyErrorCode; storeFd: number; mmapSize: number }
  | { kind: 'createAndSeal'; error: ReplyErrorCode }
  | { kind: 'createAndSealBatch'; error: ReplyErrorCode }
  | { kind: 'abort'; objectId: ObjectId }
  | { kind: 'seal'; objectId: ObjectId; error: ReplyErrorCode }
  /** objects[i] is null where the object is not available (data_size −1 on the wire). */
  | { kind: 'get'; objectIds: ObjectId[]; objects: (ObjectSpec | null)[]; storeFds: number[]; mmapSizes: number[] }
  | { kind: 'delete'; objectIds: ObjectId[]; errors: PlasmaErrorCode[] }
  | { kind: 'contains'; objectId: ObjectId; hasObject: boolean }
  | { kind: 'list'; objects: ObjectInfo[] }
  | { kind: 'evict'; numBytes: number }
  | { kind: 'setOptions'; error: ReplyErrorCode }
  | { kind: 'debugString'; debugString: string }
  | { kind: 'refreshLru' };

/** The reply message type each request is answered with; Release and Subscribe have none (§3.0). */
export const REPLY_TYPE_OF: Partial<Record<Request['kind'], MessageTypeCode>> = {
  connect: MessageType.ConnectReply,
  create: MessageType.CreateReply,
  createAndSeal: MessageType.CreateAndSealReply,
  createAndSealBatch: MessageType.CreateAndSealBatchReply,
  abort: MessageType.AbortReply,
  seal: MessageType.SealReply,
  get: MessageType.GetReply,
  delete: MessageType.DeleteReply,
  contains: MessageType.ContainsReply,
  list: MessageType.ListReply,
  evict: MessageType.EvictReply,
  setOptions: MessageType.SetOptionsReply,
  debugString: MessageType.GetDebugStringReply,
  refreshLru: MessageType.RefreshLRUReply,
};

/** A message that cannot be decoded: the connection that sent it is closed with this reason. */
export class ProtocolError extends PlasmapoolError {
  override readonly name = 'ProtocolError';
  override readonly code: string = 'PROTOCOL_ERROR';
}
