/**
 * The one client of a store's Status call: `cluster status`, waiting for a local cluster's peers,
 * the benchmarks and the tests all ask through here, with the cluster's secret and TLS files.
 */
import path from 'node:path';
import fs from 'node:fs';
import { newPeerClient, readSecretFile, type PeerAccess, type TlsFiles } from './peer-auth.js';
import type { PeerClient, StatusReply } from './peer-service.js';

/** Ask one store for its status; rejects with the gRPC error's details. */
export function queryStatus(address: string, access: PeerAccess, client?: PeerClient, timeoutMs = 2000): Promise<StatusReply> {
  const own = client ?? newPeerClient(address, access);
  return new Promise<StatusReply>((resolve, reject) =>
    own.status({}, { deadline: Date.now() + timeoutMs }, (error, reply) => {
      if (!client) own.close();
      if (error) reject(new Error(error.details || error.message));
      else resolve(reply);
    }),
  );
}

/**
 * Access to the cluster a cluster file describes: its secret file (the file's "secretFile",
 * relative to the file's directory), unless `secretFile` names another, and optional TLS files.
 */
export function accessFromClusterFile(file: string, options: { secretFile?: string; tls?: TlsFiles } = {}): PeerAccess {
  const secretFile = options.secretFile ?? clusterSecretFileOf(file);
  return { tls: options.tls, secret: secretFile ? readSecretFile(secretFile) : undefined };
}

/** The secret file a cluster file names, as an absolute path, or undefined. */
export function clusterSecretFileOf(file: string): string | undefined {
  let parsed: { secretFile?: unknown };
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { secretFile?: unknown };
  } catch {
    return undefined;
  }
  return typeof parsed.secretFile === 'string' ? path.resolve(path.dirname(file), parsed.secretFile) : undefined;
}
