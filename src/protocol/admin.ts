/**
 * The admin query (docs/protocol.md §16): a plasmapool-only message on the Plasma socket that
 * `plasmapool stat` and `plasmapool ls` send to learn what a running store holds. Its types lie
 * far outside the Plasma range (0–35, §2.1), so no Plasma client ever sends them; the body is
 * UTF-8 JSON, because its only readers are our command line and scripts.
 */

/** 'PL' 00 01 / 'PL' 00 02. */
export const ADMIN_REQUEST_TYPE = 0x504c0001;
export const ADMIN_REPLY_TYPE = 0x504c0002;

export type AdminRequest = { op: 'stat' } | { op: 'ls' };

/** Where an object's bytes are. */
export type ObjectLocation =
  | { kind: 'local' }
  /** Spilled to the external store (-e); read back on the next get. */
  | { kind: 'external' }
  /** In a peer's region, read in place by this store's clients (shared transport). */
  | { kind: 'peer'; node: string }
  /** A local copy of a peer's object (copy transport). */
  | { kind: 'replica'; node: string };

export interface AdminObject {
  id: string;
  dataSize: number;
  metadataSize: number;
  state: 'created' | 'sealed' | 'evicted';
  /** Unix seconds. */
  createTime: number;
  /** How many holders pin it: local clients and peers' leases. */
  pins: number;
  /**
   * The holders the store can name: peers' leases (`peer:NAME`) and local clients (`client-N`)
   * whose pins TypeScript keeps. Clients' pins on objects served by the native data plane are
   * counted in `pins` only.
   */
  holders: string[];
  location: ObjectLocation;
}

export interface AdminPeer {
  node: string;
  address: string;
  connected: boolean;
  transport: string;
}

export interface AdminStat {
  pid: number;
  node: string;
  socket: string;
  /** Seconds since the store started. */
  uptime: number;
  capacity: number;
  used: number;
  objects: number;
  objectsByState: Record<'created' | 'sealed' | 'evicted', number>;
  /** Peers' objects this store's clients read in place, and local copies of peers' objects. */
  remoteObjects: number;
  clients: number;
  subscribers: number;
  evictions: number;
  evictedBytes: number;
  /** Objects in the external store now. */
  spilledObjects: number;
  spills: number;
  spilledBytes: number;
  restores: number;
  remoteGets: { shared: number; copy: number };
  copiedBytes: number;
  leaseExpiries: number;
  claimConflicts: number;
  /** Requests handled in TypeScript, by kind. */
  requests: Record<string, number>;
  /** Requests the native data plane answered without TypeScript (any kind). */
  nativeRequests: number;
  /** Present when the store is part of a cluster. */
  cluster: { grpc: string; peers: AdminPeer[] } | null;
}

export type AdminReply = { op: 'stat'; stat: AdminStat } | { op: 'ls'; objects: AdminObject[] } | { op: 'error'; message: string };

export function encodeAdmin(value: AdminRequest | AdminReply): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** A request is a few bytes of JSON; anything longer is refused unparsed. */
export const MAX_ADMIN_REQUEST_BYTES = 1024;

/** Parse an admin request; null when the body is not one (the store answers with an error). */
export function decodeAdminRequest(body: Uint8Array): AdminRequest | null {
  if (body.byteLength > MAX_ADMIN_REQUEST_BYTES) return null;
  try {
    const value = JSON.parse(Buffer.from(body).toString('utf8')) as { op?: unknown };
    if (value.op === 'stat' || value.op === 'ls') return { op: value.op };
  } catch {
    // falls through
  }
  return null;
}

export function decodeAdminReply(body: Uint8Array): AdminReply {
  return JSON.parse(Buffer.from(body).toString('utf8')) as AdminReply;
}
