/**
 * The store's side of the admin query (docs/protocol.md §16): what `plasmapool stat` and
 * `plasmapool ls` show, read from the running store's object table and counters.
 */
import type { NativeChannel } from '../native/index.js';
import {
  ADMIN_REPLY_TYPE,
  decodeAdminRequest,
  encodeAdmin,
  type AdminObject,
  type AdminReply,
  type AdminStat,
  type ObjectLocation,
} from '../protocol/admin.js';
import type { AttachedCluster } from './cluster-port.js';
import type { StoredObject } from './object-table.js';
import type { PlasmaStore } from './plasma-store.js';

export interface AdminContext {
  store: PlasmaStore;
  socketPath: string;
  nodeName: string;
  startedAt: number;
  cluster(): AttachedCluster | null;
}

/** Answer one admin frame on `channel` (a bad body gets an error reply, never a crash). */
export function answerAdminFrame(channel: NativeChannel, body: Uint8Array, context: AdminContext): void {
  const request = decodeAdminRequest(body);
  let reply: AdminReply;
  if (!request) reply = { op: 'error', message: 'bad admin request: the body must be JSON {"op": "stat"} or {"op": "ls"}' };
  else if (request.op === 'stat') reply = { op: 'stat', stat: statOf(context, 1) };
  else reply = { op: 'ls', objects: [...context.store.objects.values()].map((object) => adminObject(context.store, object)) };
  channel.sendFrame(ADMIN_REPLY_TYPE, encodeAdmin(reply));
}

/** `askers`: connections of the query itself, left out of the client count. */
export function statOf(context: AdminContext, askers = 0): AdminStat {
  const { store } = context;
  const byState = { created: 0, sealed: 0, evicted: 0 };
  let remoteObjects = 0;
  for (const object of store.objects.values()) {
    byState[object.state]++;
    if (object.remote || object.replicaOf) remoteObjects++;
  }
  const basics = store.stats();
  const c = store.counters;
  const cluster = context.cluster();
  return {
    pid: process.pid,
    node: context.nodeName,
    socket: context.socketPath,
    uptime: Math.round((Date.now() - context.startedAt) / 1000),
    capacity: basics.capacity,
    used: basics.allocated,
    objects: basics.objects,
    objectsByState: byState,
    remoteObjects,
    clients: Math.max(0, basics.clients - askers),
    subscribers: basics.subscribers,
    evictions: c.evictions,
    evictedBytes: c.evictedBytes,
    spilledObjects: byState.evicted,
    spills: c.spills,
    spilledBytes: c.spilledBytes,
    restores: c.restores,
    remoteGets: { ...c.remoteGets },
    copiedBytes: c.copiedBytes,
    leaseExpiries: c.leaseExpiries,
    claimConflicts: c.claimConflicts,
    requests: Object.fromEntries(c.requests),
    nativeRequests: store.nativeRequests,
    cluster: cluster ? { grpc: cluster.grpcAddress, peers: cluster.peerStates() } : null,
  };
}

function adminObject(store: PlasmaStore, object: StoredObject): AdminObject {
  return {
    id: object.key,
    dataSize: object.dataSize,
    metadataSize: object.metadataSize,
    state: object.state,
    createTime: object.createTime,
    pins: store.pinCount(object),
    holders: [...(object.holders ?? [])].map((holder) => holder.label),
    location: locationOf(object),
  };
}

function locationOf(object: StoredObject): ObjectLocation {
  if (object.remote) return { kind: 'peer', node: object.remote.node };
  if (object.replicaOf) return { kind: 'replica', node: object.replicaOf };
  if (object.state === 'evicted') return { kind: 'external' };
  return { kind: 'local' };
}
