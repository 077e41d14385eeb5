/**
 * Who may call a store's cluster ports (docs/cluster.md, "Trust model"). Every gRPC call between
 * stores carries the cluster secret, or comes over mutual TLS from a certificate of the cluster
 * CA, or both; nothing is open to an anonymous caller, not even on loopback, where any local user
 * could otherwise reach a port that the 0600 Plasma socket keeps them from. The peer channel and
 * the copy transport's data connections admit only tokens handed out by these authenticated calls.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { peerService, type PeerClient } from './peer-service.js';

/** gRPC metadata key carrying the cluster secret. */
export const SECRET_HEADER = 'pp-cluster-secret';
const MIN_SECRET_BYTES = 16;

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

/** How this process proves itself to a cluster's stores. */
export interface PeerAccess {
  tls?: TlsFiles;
  secret?: Buffer;
}

/** Make a new secret file for a cluster: 32 random bytes, hex, readable by its owner only. */
export function createSecretFile(file: string): void {
  fs.writeFileSync(file, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600); // an existing file keeps its mode on write
}

/** Read a cluster secret file, refusing one that other users could read. */
export function readSecretFile(file: string): Buffer {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new Error(`cluster secret file ${file} does not exist: create it (cluster up makes DIR/cluster.secret), or pass another --secret-file`);
  }
  if (!stat.isFile()) throw new Error(`cluster secret file ${file} is not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    throw new Error(
      `cluster secret file ${file} is readable by other users (mode ${(stat.mode & 0o777).toString(8)}): chmod 600 ${file}`,
    );
  }
  const secret = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'utf8');
  if (secret.length < MIN_SECRET_BYTES) {
    throw new Error(`cluster secret file ${file} holds ${secret.length} bytes; use at least ${MIN_SECRET_BYTES} (for example 64 hex digits)`);
  }
  return secret;
}

/** Equal secrets, compared in constant time. */
function matches(given: unknown, secret: Buffer): boolean {
  if (typeof given !== 'string') return false;
  const candidate = Buffer.from(given, 'utf8');
  return candidate.length === secret.length && crypto.timingSafeEqual(candidate, secret);
}

const REFUSED = {
  code: grpc.status.UNAUTHENTICATED,
  details: 'this store requires the cluster secret: pass --secret-file with the cluster\'s secret file',
};

/** Wrap every handler of a service so that a call without the secret is refused before it runs. */
export function requireSecret(handlers: grpc.UntypedServiceImplementation, secret: Buffer): grpc.UntypedServiceImplementation {
  const guarded: grpc.UntypedServiceImplementation = {};
  for (const [name, handler] of Object.entries(handlers)) {
    guarded[name] = ((call: grpc.ServerUnaryCall<unknown, unknown>, callback?: grpc.sendUnaryData<unknown>) => {
      if (matches(call.metadata.get(SECRET_HEADER)[0], secret)) {
        return (handler as (call: unknown, callback?: unknown) => void)(call, callback);
      }
      if (callback) return callback(REFUSED, null);
      // Streaming calls have no callback: an 'error' event ends them with the status.
      (call as unknown as grpc.ServerWritableStream<unknown, unknown>).emit('error', REFUSED);
    }) as grpc.UntypedHandleCall;
  }
  return guarded;
}

export function channelCredentials(access: PeerAccess): grpc.ChannelCredentials {
  const tls = access.tls;
  if (!tls) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(fs.readFileSync(tls.ca), fs.readFileSync(tls.key), fs.readFileSync(tls.cert));
}

/** Options for a peer client that sends the secret with every call. */
export function clientOptions(access: PeerAccess, options: grpc.ClientOptions = {}): grpc.ClientOptions {
  const secret = access.secret;
  if (!secret) return options;
  const sendSecret: grpc.Interceptor = (callOptions, nextCall) =>
    new grpc.InterceptingCall(nextCall(callOptions), {
      start(metadata, listener, next) {
        metadata.set(SECRET_HEADER, secret.toString('utf8'));
        next(metadata, listener);
      },
    });
  return { ...options, interceptors: [...(options.interceptors ?? []), sendSecret] };
}

/** A client of a store's cluster port, authenticated as `access` says. */
export function newPeerClient(address: string, access: PeerAccess, options: grpc.ClientOptions = {}): PeerClient {
  const { Client } = peerService();
  return new Client(address, channelCredentials(access), clientOptions(access, options));
}
