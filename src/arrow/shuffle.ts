/**
 * The shuffle over shared memory. A mapper partitions its input and puts each partition into its
 * own node's store as an Arrow object with a deterministic id; a reducer asks its own node's store
 * for partition p of every mapper (the cluster resolves ids owned by peers) and gets zero-copy
 * tables over the memory those mappers wrote, which it joins without copying: the joined table's
 * chunks are the mappers' record batches. No partition byte is copied between mapper and reducer.
 */
import { PlasmapoolError } from '../errors.js';
import { Table, tableFromIPC } from 'apache-arrow';
import type { PlasmaClient } from '../client/plasma-client.js';
import { PlasmaObjectExistsError } from '../client/errors.js';
import type { ObjectBuffer } from '../client/object-buffer.js';
import { ARROW_STREAM_METADATA, putRecordBatches } from './table-objects.js';
import { partitionTable, type PartitionOptions } from './partition.js';
import { jobObjectIds, manifestObjectId, partitionObjectId, type ShuffleShape } from './shuffle-ids.js';

export * from './shuffle-ids.js';

/** Metadata of a mapper's "done" manifest (its data is JSON). */
export const SHUFFLE_MANIFEST_METADATA = new TextEncoder().encode('plasmapool/shuffle-manifest;v=1');

/** What a mapper publishes once all its partitions are sealed. */
export interface MapperManifest {
  job: string;
  mapper: number;
  partitions: number;
  keys: string[];
  /** Rows of each partition. */
  rows: number[];
  /** Bytes of each partition object. */
  bytes: number[];
}

export interface MapOptions extends PartitionOptions {
  job: string;
  mapper: number;
  partitions: number;
  keys: string[];
}

export interface MapTimings {
  /** Hashing, sorting and gathering the partitions. */
  partitionMs: number;
  /** Writing them into the store (create, serialize into shared memory, seal) and the manifest. */
  publishMs: number;
}

export interface MapResult {
  manifest: MapperManifest;
  timings: MapTimings;
}

/** A partition that did not arrive in time, with what is known about its mapper. */
export class ShufflePartitionMissingError extends PlasmapoolError {
  override readonly name = 'ShufflePartitionMissingError';
  override readonly code: string = 'SHUFFLE_PARTITION_MISSING';
  constructor(
    message: string,
    readonly job: string,
    readonly partition: number,
    /** Mappers whose partition is missing. */
    readonly mappers: number[],
  ) {
    super(message);
  }
}

/** The message for a partition that did not arrive; names the likely cause and what to do. */
export function missingPartitionMessage(job: string, partition: number, mapper: number, timeoutMs: number, mapperFinished: boolean, how = 'available'): string {
  const base = `partition ${partition} of mapper ${mapper} (job ${job}) not ${how} after ${timeoutMs} ms`;
  return mapperFinished
    ? `${base}, although mapper ${mapper} finished: the object was deleted or evicted (give the stores more memory with -m)`
    : `${base}: did mapper ${mapper} fail? (its "done" manifest is missing too; rerun it, or raise the timeout if it is still running)`;
}

/**
 * Partition `input` by `keys` and put each partition into the store, then the manifest. A retry
 * of a mapper that failed halfway skips partitions already sealed: ids are deterministic and the
 * partitioning is too, so an existing object holds exactly what this run would write.
 */
export async function mapToStore(client: PlasmaClient, input: Table, options: MapOptions): Promise<MapResult> {
  const t0 = performance.now();
  const parts = partitionTable(input, options.keys, options.partitions, options);
  const t1 = performance.now();
  const bytes: number[] = [];
  for (let p = 0; p < options.partitions; p++) {
    const id = partitionObjectId(options.job, options.mapper, p);
    try {
      bytes.push(await putRecordBatches(client, id, parts.schema, parts.batches[p]!));
    } catch (error) {
      if (!(error instanceof PlasmaObjectExistsError)) throw error;
      bytes.push(-1);
    }
    parts.batches[p] = []; // let the gathered copy go as soon as it is in the store
  }
  const manifest: MapperManifest = {
    job: options.job,
    mapper: options.mapper,
    partitions: options.partitions,
    keys: options.keys,
    rows: parts.rows,
    bytes,
  };
  try {
    await client.createAndSeal(manifestObjectId(options.job, options.mapper), new TextEncoder().encode(JSON.stringify(manifest)), SHUFFLE_MANIFEST_METADATA);
  } catch (error) {
    if (!(error instanceof PlasmaObjectExistsError)) throw error;
  }
  return { manifest, timings: { partitionMs: t1 - t0, publishMs: performance.now() - t1 } };
}

export interface GatherOptions {
  job: string;
  partition: number;
  mappers: number;
  /** How long to wait for partitions not yet sealed, in ms (default 30,000). */
  timeoutMs?: number;
}

/** Partition p of a job, joined from all mappers without copying. */
export interface GatheredPartition {
  /** Its chunks are the mappers' record batches, in mapper order; column buffers live in the stores. */
  table: Table;
  /** Rows contributed by each mapper. */
  rowsPerMapper: number[];
  /** The pinned objects (one per mapper) whose memory the table's columns view. */
  objects: ObjectBuffer[];
  /** Waiting for the objects and opening them as tables, in ms. */
  gatherMs: number;
  /**
   * Unpin the objects now instead of when the table is garbage-collected. The table must not be
   * read afterwards: the store may reuse that memory.
   */
  release(): void;
}

/** Whether each mapper's manifest is in the store (without waiting). */
async function finishedMappers(client: PlasmaClient, job: string, mappers: readonly number[]): Promise<boolean[]> {
  const buffers = await client.get(
    mappers.map((m) => manifestObjectId(job, m)),
    { timeoutMs: 0 },
  );
  return buffers.map((buffer) => {
    buffer?.release();
    return buffer !== null;
  });
}

/** Read mapper manifests that are in the store (null where one is missing). */
export async function readManifests(client: PlasmaClient, job: string, mappers: number, timeoutMs = 0): Promise<(MapperManifest | null)[]> {
  const ids = Array.from({ length: mappers }, (_, m) => manifestObjectId(job, m));
  const buffers = await client.get(ids, { timeoutMs });
  return buffers.map((buffer) => {
    if (!buffer) return null;
    try {
      return JSON.parse(new TextDecoder().decode(buffer.data)) as MapperManifest;
    } finally {
      buffer.release();
    }
  });
}

/**
 * Gather partition p from every mapper: one get for all of them (waiting up to the timeout for
 * those not sealed yet), each object opened as a zero-copy table, all their record batches joined
 * into one table. Throws ShufflePartitionMissingError naming every mapper whose partition is missing.
 */
export async function gatherPartition(client: PlasmaClient, options: GatherOptions): Promise<GatheredPartition> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const t0 = performance.now();
  const ids = Array.from({ length: options.mappers }, (_, m) => partitionObjectId(options.job, m, options.partition));
  const buffers = await client.get(ids, { timeoutMs });
  const missing = buffers.flatMap((buffer, m) => (buffer ? [] : [m]));
  if (missing.length > 0) {
    for (const buffer of buffers) buffer?.release();
    const finished = await finishedMappers(client, options.job, missing);
    const lines = missing.map((m, i) => missingPartitionMessage(options.job, options.partition, m, timeoutMs, finished[i]!));
    throw new ShufflePartitionMissingError(lines.join('\n'), options.job, options.partition, missing);
  }
  const objects = buffers as ObjectBuffer[];
  try {
    const tables = objects.map((object, m) => {
      if (!sameBytes(object.metadata, ARROW_STREAM_METADATA)) {
        throw new Error(`object ${object.id.hex} (partition ${options.partition} of mapper ${m}, job ${options.job}) is not an Arrow table`);
      }
      // Zero-copy: the object's data starts its own ArrayBuffer, so the IPC body is 8-byte aligned.
      return tableFromIPC(object.data);
    });
    const table = new Table(tables[0]!.schema, tables.flatMap((t) => t.batches));
    return {
      table,
      rowsPerMapper: tables.map((t) => t.numRows),
      objects,
      gatherMs: performance.now() - t0,
      release: () => {
        for (const object of objects) if (!object.released) object.release();
      },
    };
  } catch (error) {
    for (const object of objects) object.release();
    throw error;
  }
}

/**
 * Delete every object of a job (inputs, partitions, manifests) through each of the given clients
 * (one per node: a node deletes what it owns). Objects still pinned by a reader go when released.
 */
export async function deleteShuffleJob(clients: readonly PlasmaClient[], shape: ShuffleShape): Promise<void> {
  const ids = jobObjectIds(shape);
  await Promise.all(clients.map((client) => client.delete(ids)));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
