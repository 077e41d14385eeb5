/**
 * The gRPC service between stores (proto/cluster.proto), loaded at run time with proto-loader and
 * typed here by hand, once.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ClusterHealth } from '../store/cluster-port.js';

export interface NodeIdentity {
  node: string;
  regionPath: string;
  regionUuid: string;
  mapLength: number;
  grpcAddress: string;
  socketPath: string;
}

export interface ObjectLocation {
  id: Buffer;
  found: boolean;
  offset: number;
  dataSize: number;
  metadataSize: number;
  digest: Buffer;
}

export interface LookupRequest {
  holder: string;
  ids: Buffer[];
}

export interface LookupReply {
  objects: ObjectLocation[];
  leaseMs: number;
}

export interface PinRequest {
  holder: string;
  ids: Buffer[];
}

export interface RenewReply {
  leaseMs: number;
  pins: number;
}

export interface ClaimRequest {
  id: Buffer;
  node: string;
}

export interface ClaimReply {
  granted: boolean;
  owner: string;
  /** The home cannot decide now (fenced, or the membership is changing): ask again. */
  retry: boolean;
}

export interface ObjectEvent {
  kind: 'SEALED' | 'REMOVED';
  id: Buffer;
  dataSize: number;
  metadataSize: number;
}

export interface FetchChunk {
  dataSize: number;
  metadataSize: number;
  digest: Buffer;
  bytes: Buffer;
  checksum: Buffer;
  found: boolean;
}

export interface PeerStatus {
  node: string;
  address: string;
  connected: boolean;
  transport: string;
}

export interface StatusReply {
  node: string;
  capacity: number;
  allocated: number;
  objects: number;
  clients: number;
  peers: PeerStatus[];
  /** Membership state and counters (absent from stores older than etcd membership). */
  membership?: ClusterHealth;
}

type Unary<Req, Res> = (request: Req, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response: Res) => void) => grpc.ClientUnaryCall;

/** The generated client's methods we use. */
export interface PeerClient extends grpc.Client {
  hello(
    request: NodeIdentity,
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    callback: (error: grpc.ServiceError | null, response: NodeIdentity) => void,
  ): grpc.ClientUnaryCall;
  lookup: Unary<LookupRequest, LookupReply>;
  unpin: Unary<PinRequest, object>;
  renew: Unary<{ holder: string }, RenewReply>;
  claim: Unary<ClaimRequest, ClaimReply>;
  unclaim: Unary<ClaimRequest, object>;
  status: Unary<object, StatusReply>;
  events(request: { node: string }, options?: grpc.CallOptions): grpc.ClientReadableStream<ObjectEvent>;
  fetch(request: { holder: string; id: Buffer }, metadata?: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<FetchChunk>;
}

export type PeerClientConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => PeerClient;

const protoPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../proto/cluster.proto');

let loaded: { service: grpc.ServiceDefinition; Client: PeerClientConstructor } | null = null;

export function peerService(): { service: grpc.ServiceDefinition; Client: PeerClientConstructor } {
  if (loaded) return loaded;
  const definition = protoLoader.loadSync(protoPath, {
    keepCase: false,
    longs: Number,
    enums: String,
    bytes: Buffer,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    plasmapool: { cluster: { v1: { Peer: PeerClientConstructor & { service: grpc.ServiceDefinition } } } };
  };
  const Peer = pkg.plasmapool.cluster.v1.Peer;
  loaded = { service: Peer.service, Client: Peer };
  return loaded;
}

/** Messages above this would be bulk data in a unary call: we never send such. */
export const GRPC_MESSAGE_LIMIT = 64 * 1024 * 1024;
