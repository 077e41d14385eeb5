/**
 * The tables of fbs/plasma.fbs and fbs/common.fbs as the verifier sees them: fields in slot order
 * with their wire kinds (docs/protocol.md §2.4–§2.5). Keep in step with the schema; the codec
 * tests build every message with the generated code and verify it against these shapes.
 */
import type { FieldShape, TableShape } from './flatbuffer-verifier.js';

/** sizeof(PlasmaObjectSpec) (§2.3). */
export const OBJECT_SPEC_SIZE = 48;

/** Object keys keep insertion order, so the record lists fields in slot order. */
function table(name: string, fields: Record<string, FieldShape['kind']>): TableShape {
  return { name, fields: Object.entries(fields).map(([field, kind]) => ({ name: field, kind })) };
}

export const ObjectInfoShape = table('ObjectInfo', {
  object_id: 'string',
  data_size: 'int64',
  metadata_size: 'int64',
  ref_count: 'int32',
  create_time: 'int64',
  construct_duration: 'int64',
  digest: 'string',
  is_deletion: 'bool',
});

export const CudaHandleShape = table('CudaHandle', { handle: 'vector<ubyte>' });

const empty = (name: string): TableShape => table(name, {});

export const Shapes = {
  PlasmaSetOptionsRequest: table('PlasmaSetOptionsRequest', { client_name: 'string', output_memory_quota: 'int64' }),
  PlasmaSetOptionsReply: table('PlasmaSetOptionsReply', { error: 'int32' }),
  PlasmaGetDebugStringRequest: empty('PlasmaGetDebugStringRequest'),
  PlasmaGetDebugStringReply: table('PlasmaGetDebugStringReply', { debug_string: 'string' }),
  PlasmaCreateRequest: table('PlasmaCreateRequest', {
    object_id: 'string',
    evict_if_full: 'bool',
    data_size: 'uint64',
    metadata_size: 'uint64',
    device_num: 'int32',
  }),
  PlasmaCreateReply: table('PlasmaCreateReply', {
    object_id: 'string',
    plasma_object: { struct: OBJECT_SPEC_SIZE },
    error: 'int32',
    store_fd: 'int32',
    mmap_size: 'int64',
    ipc_handle: { table: () => CudaHandleShape },
  }),
  PlasmaCreateAndSealRequest: table('PlasmaCreateAndSealRequest', {
    object_id: 'string',
    evict_if_full: 'bool',
    data: 'string',
    metadata: 'string',
    digest: 'string',
  }),
  PlasmaCreateAndSealReply: table('PlasmaCreateAndSealReply', { error: 'int32' }),
  PlasmaCreateAndSealBatchRequest: table('PlasmaCreateAndSealBatchRequest', {
    object_ids: 'vector<string>',
    evict_if_full: 'bool',
    data: 'vector<string>',
    metadata: 'vector<string>',
    digest: 'vector<string>',
  }),
  PlasmaCreateAndSealBatchReply: table('PlasmaCreateAndSealBatchReply', { error: 'int32' }),
  PlasmaAbortRequest: table('PlasmaAbortRequest', { object_id: 'string' }),
  PlasmaAbortReply: table('PlasmaAbortReply', { object_id: 'string' }),
  PlasmaSealRequest: table('PlasmaSealRequest', { object_id: 'string', digest: 'string' }),
  PlasmaSealReply: table('PlasmaSealReply', { object_id: 'string', error: 'int32' }),
  PlasmaGetRequest: table('PlasmaGetRequest', { object_ids: 'vector<string>', timeout_ms: 'int64' }),
  PlasmaGetReply: table('PlasmaGetReply', {
    object_ids: 'vector<string>',
    plasma_objects: { vectorOfStructs: OBJECT_SPEC_SIZE },
    store_fds: 'vector<int32>',
    mmap_sizes: 'vector<int64>',
    handles: { vectorOfTables: () => CudaHandleShape },
  }),
  PlasmaReleaseRequest: table('PlasmaReleaseRequest', { object_id: 'string' }),
  PlasmaDeleteRequest: table('PlasmaDeleteRequest', { count: 'int32', object_ids: 'vector<string>' }),
  PlasmaDeleteReply: table('PlasmaDeleteReply', {
    count: 'int32',
    object_ids: 'vector<string>',
    errors: 'vector<int32>',
  }),
  PlasmaContainsRequest: table('PlasmaContainsRequest', { object_id: 'string' }),
  PlasmaContainsReply: table('PlasmaContainsReply', { object_id: 'string', has_object: 'int32' }),
  PlasmaListRequest: empty('PlasmaListRequest'),
  PlasmaListReply: table('PlasmaListReply', { objects: { vectorOfTables: () => ObjectInfoShape } }),
  PlasmaConnectRequest: empty('PlasmaConnectRequest'),
  PlasmaConnectReply: table('PlasmaConnectReply', { memory_capacity: 'int64' }),
  PlasmaEvictRequest: table('PlasmaEvictRequest', { num_bytes: 'uint64' }),
  PlasmaEvictReply: table('PlasmaEvictReply', { num_bytes: 'uint64' }),
  PlasmaSubscribeRequest: empty('PlasmaSubscribeRequest'),
  PlasmaNotification: table('PlasmaNotification', { object_info: { vectorOfTables: () => ObjectInfoShape } }),
  PlasmaRefreshLRURequest: table('PlasmaRefreshLRURequest', { object_ids: 'vector<string>' }),
  PlasmaRefreshLRUReply: empty('PlasmaRefreshLRUReply'),
} as const satisfies Record<string, TableShape>;
