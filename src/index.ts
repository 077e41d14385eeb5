/**
 * plasmapool: a Plasma-compatible, memory-disaggregated object store for Apache Arrow data.
 *
 * ```ts
 * import { tableFromArrays } from 'apache-arrow';
 * import { connect, getTable, ObjectId, putTable, startStore } from 'plasmapool';
 *
 * const store = await startStore({ memory: '256MiB' }); // or `plasmapool store -s SOCKET -m 1GiB`
 * const client = await connect(store.socketPath);
 * const id = ObjectId.fromName('flights/2024-01');
 * await putTable(client, id, tableFromArrays({ delay: Float64Array.from([3, -1.5, 12]) }));
 * const table = await getTable(client, id); // zero-copy: columns are views of the store's memory
 * console.log(table.getChild('delay')!.toArray()); // Float64Array [3, -1.5, 12]
 * client.close();
 * await store.close();
 * ```
 *
 * Objects a client gets stay pinned while anything (a buffer, a table, a column) references
 * their memory; `release()`, `using`, or garbage collection gives them back.
 *
 * The shuffle (hash-partitioning tables across a cluster's stores) is a separate entry point,
 * `plasmapool/shuffle`; its dataset helpers need the optional packages parquet-wasm and
 * vega-datasets.
 *
 * @packageDocumentation
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStore as startStoreProcessLocal, type StoreHandle } from './store/server.js';
import { parseSize } from './util/size.js';

export {
  PlasmapoolError,
  StoreUnreachableError,
  InvalidOptionError,
  ExternalStoreError,
  NativeAddonError,
  InternalError,
} from './errors.js';
export { ProtocolError } from './protocol/messages.js';
export { connect, PlasmaClient } from './client/plasma-client.js';
export type { ConnectOptions, CreateOptions, GetOptions, ObjectListing } from './client/plasma-client.js';
export { ObjectBuffer, ObjectReleasedError } from './client/object-buffer.js';
export { NotificationStream, type Notification } from './client/notifications.js';
export {
  PlasmaStoreError,
  PlasmaObjectExistsError,
  PlasmaObjectNotFoundError,
  PlasmaStoreFullError,
} from './client/errors.js';
export { PlasmaConnectionError } from './client/connection.js';
export { ObjectId } from './protocol/object-id.js';
export { storeStat, storeObjects } from './client/admin-query.js';
export type { AdminStat as StoreStat, AdminObject as StoreObject, ObjectLocation } from './protocol/admin.js';
export {
  putTable,
  getTable,
  putRecordBatches,
  getRecordBatches,
  ipcStreamSize,
  ARROW_STREAM_METADATA,
  NotArrowObjectError,
  ObjectNotAvailableError,
  ForeignArrowError,
} from './arrow/table-objects.js';
export type { PutTableOptions, GetTableOptions } from './arrow/table-objects.js';

/** Options of an embedded store. */
export interface EmbeddedStoreOptions {
  /** Capacity: bytes, or a string with a unit such as '256MiB' or '4GB'. */
  memory: number | string;
  /** Unix socket path; a fresh one in a private temporary directory by default. */
  socketPath?: string;
  /** Directory for the region file (default /dev/shm). */
  dir?: string;
  /** External store for evicted objects: hashtable://NAME or file:///DIR. */
  externalStore?: string;
}

/** A store running inside this process. */
export interface EmbeddedStore {
  /** Where clients connect (pyarrow.plasma.connect(socketPath) works too). */
  readonly socketPath: string;
  /** The region file backing the store's memory. */
  readonly regionPath: string;
  /** Capacity in bytes. */
  readonly capacity: number;
  /** Stop the store: disconnect clients, remove its socket and region file. */
  close(): Promise<void>;
}

/**
 * Start a store in this process, for tests, notebooks and single-process apps. Standalone stores
 * are started with `plasmapool store` instead.
 */
export async function startStore(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  let temporaryDir: string | null = null;
  let socketPath = options.socketPath;
  // The host process may die of an uncaught exception or call process.exit() without closing
  // the store: 'exit' still runs, and the socket directory must not outlive it.
  const removeTemporaryDir = () => {
    if (temporaryDir) fs.rmSync(temporaryDir, { recursive: true, force: true });
  };
  if (!socketPath) {
    temporaryDir = fs.mkdtempSync(path.join(os.tmpdir(), 'plasmapool-'));
    socketPath = path.join(temporaryDir, 'plasma.sock');
    process.once('exit', removeTemporaryDir);
  }
  let handle: StoreHandle;
  try {
    handle = await startStoreProcessLocal({
      socketPath,
      memory: parseSize(options.memory),
      directory: options.dir,
      externalStore: options.externalStore,
    });
  } catch (error) {
    process.off('exit', removeTemporaryDir);
    removeTemporaryDir();
    throw error;
  }
  return {
    socketPath: handle.socketPath,
    regionPath: handle.regionPath,
    capacity: handle.capacity,
    async close() {
      await handle.close();
      process.off('exit', removeTemporaryDir);
      removeTemporaryDir();
    },
  };
}
