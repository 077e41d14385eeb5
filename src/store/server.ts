/**
 * A running store: the region, the allocator, the listening socket and one session per client.
 * `startStore` is what `plasmapool store` runs and what embedders call in-process.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { native, type NativeChannel, type NativeListener, type NativeRegion } from '../native/index.js';
import { ProtocolError } from '../protocol/messages.js';
import { decodeRequest } from '../protocol/store-codec.js';
import { createLogger, type Logger } from '../util/log.js';
import { formatSize } from '../util/size.js';
import type { ExternalStore } from './external/external-store.js';
import { openExternalStore } from './external/open-external-store.js';
import { CLIENT_OUTPUT_LIMIT_BYTES } from './limits.js';
import { PlasmaStore } from './plasma-store.js';
import { openStoreRegion, sweepStaleRegions } from './region-setup.js';
import { ClientSession } from './session.js';
import type { AttachedCluster, ClusterParts } from './cluster-port.js';
import { InvalidOptionError } from '../errors.js';
import { ADMIN_REQUEST_TYPE } from '../protocol/admin.js';
import { answerAdminFrame, type AdminContext } from './admin-answer.js';

export interface StoreOptions {
  /** Unix socket to listen on (plasma_store -s). */
  socketPath: string;
  /** Capacity in bytes (plasma_store -m). */
  memory: number;
  /** Directory for the region file (plasma_store -d); /dev/shm by default. */
  directory?: string;
  /** Use an existing file or device (e.g. /dev/dax0.0) as the region instead of a new file in `directory`. */
  regionPath?: string;
  /** `directory` is a hugetlbfs mount (plasma_store -h). */
  hugepages?: boolean;
  /** External store endpoint (plasma_store -e): hashtable://NAME or file:///DIR. */
  externalStore?: string;
  /** This store's node name (cluster); the host name by default. */
  nodeName?: string;
  /** Largest accepted request frame body. */
  maxFrameBytes?: number;
  /**
   * Join a cluster of stores: builds the cluster around this store (src/node/start-node.ts makes
   * it from cluster options); a single node without it.
   */
  cluster?: (parts: ClusterParts) => AttachedCluster;
  log?: Logger;
}

export interface StoreHandle {
  readonly socketPath: string;
  readonly regionPath: string;
  readonly capacity: number;
  readonly store: PlasmaStore;
  readonly region: NativeRegion;
  /** Set when the store is part of a cluster. */
  readonly cluster: AttachedCluster | null;
  /** Close every client, stop listening, remove the socket and the region file. */
  close(): Promise<void>;
}

/** Longest Unix socket path Linux accepts (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Room in the region beyond the -m capacity: the allocator aligns every object to 64 bytes and
 * fragments, while capacity accounting counts exact sizes (§9), so an object of exactly the
 * capacity must still fit.
 */
export function regionSizeFor(capacity: number): number {
  const slack = Math.max(Math.ceil(capacity / 16), 4 * 1024 * 1024);
  return Math.ceil((capacity + slack) / 4096) * 4096;
}

export async function startStore(options: StoreOptions): Promise<StoreHandle> {
  const log = options.log ?? createLogger('store');
  validate(options);
  const nodeName = options.nodeName ?? os.hostname();
  const directory = options.directory ?? '/dev/shm';
  const regionPath =
    options.regionPath ??
    path.join(directory, `plasmapool-${sanitize(nodeName)}-${process.pid}-${crypto.randomBytes(4).toString('hex')}.region`);
  const ownsRegionFile = !options.regionPath;

  if (!options.regionPath) sweepStaleRegions(directory, log);

  let external: ExternalStore | null = null;
  if (options.externalStore) external = await openExternalStore(options.externalStore);

  const opened = await openStoreRegion({
    path: regionPath,
    named: !ownsRegionFile,
    capacity: regionSizeFor(options.memory),
    nodeName,
    hugepages: options.hugepages ?? false,
    log,
  });
  const { region, allocator, index } = opened;
  // Like the reference store, unlink the file at once: the memory lives as long as the store's
  // descriptor and mappings, so even a SIGKILLed store leaves nothing in /dev/shm. Peers on this
  // machine open it through /proc/PID/fd; a region given by path (a DAX device, a shared file)
  // is left alone, and keeps its objects across restarts.
  let regionAttachPath = region.path;
  if (ownsRegionFile) {
    // Another store's start-up sweep may have removed it already; the memory lives on regardless.
    fs.rmSync(regionPath, { force: true });
    regionAttachPath = `/proc/${process.pid}/fd/${region.fd}`;
  }
  const store = new PlasmaStore({ capacity: options.memory, region, allocator, external, index, log });
  if (opened.recovered.length > 0) store.adoptRecovered(opened.recovered);
  if (external) {
    const spilled = external.list();
    if (spilled.length > 0) {
      store.adoptSpilled(spilled);
      log.info('found spilled objects of an earlier run in the external store', { endpoint: external.endpoint, objects: spilled.length });
    }
  }

  const sessions = new Set<ClientSession>();
  let nextSessionId = 1;
  let cluster: AttachedCluster | null = null;
  const admin: AdminContext = { store, socketPath: options.socketPath, nodeName, startedAt: Date.now(), cluster: () => cluster };
  let listener: NativeListener;
  try {
    listener = native.listen(options.socketPath, 'plasma', (channel: NativeChannel) => {
      const session = new ClientSession(nextSessionId++, channel);
      store.attachSession(session); // issue 10: the native data plane sees its frames first
      sessions.add(session);
      store.clientCount = sessions.size;
      if (options.maxFrameBytes) channel.maxFrameBytes = options.maxFrameBytes;
      channel.outputLimitBytes = CLIENT_OUTPUT_LIMIT_BYTES;
      const clientLog = log.child({ client: session.label });
      channel.start({
        onFrame: (type, body) => {
          if (session.closed) return;
          if (type === ADMIN_REQUEST_TYPE) return answerAdminFrame(channel, body, admin); // §16
          const arrived = process.hrtime.bigint();
          let request;
          try {
            request = decodeRequest(type, body);
          } catch (error) {
            if (!(error instanceof ProtocolError)) throw error;
            clientLog.warn('closing connection: bad request', { reason: error.message, type });
            store.disconnect(session);
            channel.close();
            sessions.delete(session);
            return;
          }
          try {
            store.handle(session, request);
            store.counters.request(request.kind, arrived);
          } catch (error) {
            // A bug must cost one connection, never the store and everyone else's objects.
            clientLog.error('internal error while handling a request; closing this connection', {
              request: request.kind,
              error: (error as Error).stack ?? String(error),
            });
            store.disconnect(session);
            channel.close();
            sessions.delete(session);
          }
        },
        onFd: (fd) => {
          try {
            store.receiveFd(session, fd);
          } catch (error) {
            clientLog.error('internal error while taking a descriptor; closing this connection', {
              error: (error as Error).stack ?? String(error),
            });
            store.disconnect(session);
            channel.close();
          }
        },
        onClose: (reason) => {
          if (reason) clientLog.info('connection closed', { reason });
          store.disconnect(session);
          sessions.delete(session);
          store.clientCount = sessions.size;
        },
      });
    });
  } catch (error) {
    region.close();
    if (ownsRegionFile) fs.rmSync(regionPath, { force: true });
    external?.close();
    throw error;
  }

  if (options.cluster) {
    cluster = options.cluster({ store, region, socketPath: options.socketPath, regionAttachPath, log });
    try {
      await cluster.start();
    } catch (error) {
      listener.close();
      fs.rmSync(options.socketPath, { force: true });
      region.close();
      if (ownsRegionFile) fs.rmSync(regionPath, { force: true });
      external?.close();
      throw error;
    }
    store.attachCluster(cluster);
  }

  log.info('store ready', { socket: options.socketPath, capacity: options.memory, region: regionPath });
  let closed = false;
  return {
    socketPath: options.socketPath,
    regionPath,
    capacity: options.memory,
    store,
    region,
    cluster,
    async close() {
      if (closed) return;
      closed = true;
      await cluster?.close();
      listener.close();
      for (const session of sessions) {
        store.disconnect(session);
        session.channel.close();
      }
      sessions.clear();
      store.notifier.closeAll();
      fs.rmSync(options.socketPath, { force: true });
      region.close();
      if (ownsRegionFile) fs.rmSync(regionPath, { force: true });
      external?.close();
      log.info('store closed', { socket: options.socketPath });
    },
  };
}

/** Check what can be checked before touching memory, with errors that name the fix. */
function validate(options: StoreOptions): void {
  if (!Number.isSafeInteger(options.memory) || options.memory <= 0) {
    throw new InvalidOptionError(`memory must be a positive number of bytes, got ${options.memory}: start with -m 1GiB, for example`);
  }
  const socketBytes = Buffer.byteLength(options.socketPath);
  if (socketBytes > MAX_SOCKET_PATH_BYTES) {
    throw new InvalidOptionError(
      `socket path is too long (${socketBytes} bytes, the limit is ${MAX_SOCKET_PATH_BYTES}): use a shorter -s path such as /tmp/plasma.sock`,
    );
  }
  const socketDir = path.dirname(path.resolve(options.socketPath));
  if (!fs.existsSync(socketDir)) {
    throw new InvalidOptionError(`the directory of socket ${options.socketPath} does not exist: create ${socketDir} or choose another -s`);
  }
  if (!options.regionPath) {
    const directory = options.directory ?? '/dev/shm';
    if (!fs.existsSync(directory)) throw new InvalidOptionError(`region directory ${directory} does not exist: create it or pass another -d`);
    if (!fs.statSync(directory).isDirectory()) {
      throw new InvalidOptionError(`region directory ${directory} is not a directory: -d takes a directory (the region file is made inside it); to use an existing file or device, pass --region`);
    }
    const free = native.freeSpace(directory);
    const needed = regionSizeFor(options.memory);
    if (needed > free) {
      throw new InvalidOptionError(
        `not enough space in ${directory}: the store needs ${formatSize(needed)} for -m ${options.memory} but only ${formatSize(free)} is free; lower -m or free space`,
      );
    }
  }
}

function sanitize(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 40);
}
