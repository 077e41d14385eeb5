/**
 * Arrow tables as Plasma objects. An object holds one Arrow IPC stream (schema, dictionaries,
 * record batches) in its data and a marker in its metadata, so any Plasma client, pyarrow
 * included, reads it with `pa.ipc.open_stream(buffer)`. Reading from TypeScript is zero-copy: the
 * returned Table's column buffers are views of the store's shared memory, and the object stays
 * pinned exactly as long as the table (or any column taken from it) is reachable.
 */
import {
  RecordBatch,
  RecordBatchReader,
  RecordBatchStreamWriter,
  Schema,
  Table,
  tableFromIPC,
} from 'apache-arrow';
import type { PlasmaClient } from '../client/plasma-client.js';
import { PlasmaStoreError } from '../client/errors.js';
import type { ObjectBuffer } from '../client/object-buffer.js';
import type { ObjectId } from '../protocol/object-id.js';
import { CountingSink, TargetSink } from './ipc-sinks.js';

/** Metadata of objects that hold an Arrow IPC stream. */
export const ARROW_STREAM_METADATA = new TextEncoder().encode('plasmapool/arrow-ipc-stream;v=1');

export class NotArrowObjectError extends PlasmaStoreError {
  override name = 'NotArrowObjectError';
}

export class ObjectNotAvailableError extends PlasmaStoreError {
  override name = 'ObjectNotAvailableError';
}

export interface PutTableOptions {
  /** Evict unpinned objects to make room (default true). */
  evictIfFull?: boolean;
}

export interface GetTableOptions {
  /** −1 waits until the object is sealed (default), 0 answers at once, k > 0 waits up to k ms. */
  timeoutMs?: number;
}

function writeStream(sink: CountingSink | TargetSink, schema: Schema, batches: Iterable<RecordBatch>): void {
  const writer = new RecordBatchStreamWriter({ autoDestroy: false });
  writer.reset(sink as never, schema);
  for (const batch of batches) writer.write(batch);
  writer.finish();
}

/** The exact size of the IPC stream for these batches, without materializing it. */
export function ipcStreamSize(schema: Schema, batches: Iterable<RecordBatch>): number {
  const counter = new CountingSink();
  writeStream(counter, schema, batches);
  return counter.byteLength;
}

/**
 * Put record batches as one Arrow IPC stream object: measure, create, serialize straight into
 * the object's memory, seal. Returns the object's size in bytes.
 */
export async function putRecordBatches(
  client: PlasmaClient,
  id: ObjectId,
  schema: Schema,
  batches: readonly RecordBatch[],
  options: PutTableOptions = {},
): Promise<number> {
  const size = ipcStreamSize(schema, batches);
  const object = await client.create(id, size, { metadata: ARROW_STREAM_METADATA, evictIfFull: options.evictIfFull });
  try {
    const sink = new TargetSink(object.data);
    writeStream(sink, schema, batches);
    if (sink.position !== size) throw new Error(`Arrow IPC wrote ${sink.position} bytes, ${size} were measured`);
    await client.seal(id);
  } catch (error) {
    object.release();
    await client.abort(id).catch(() => undefined);
    throw error;
  }
  object.release();
  return size;
}

/** Put a table as an Arrow IPC stream object (one copy, straight into shared memory). */
export async function putTable(client: PlasmaClient, id: ObjectId, table: Table, options: PutTableOptions = {}): Promise<number> {
  return putRecordBatches(client, id, table.schema, table.batches, options);
}

/** Fail clearly unless the object holds an Arrow IPC stream (ours, or pyarrow's with no marker). */
function checkArrow(object: ObjectBuffer): void {
  const metadata = object.metadata;
  if (metadata.byteLength > 0) {
    if (equalBytes(metadata, ARROW_STREAM_METADATA)) return;
    throw new NotArrowObjectError(
      `object ${object.id.hex} is not an Arrow table: its metadata is ${JSON.stringify(Buffer.from(metadata).toString('latin1').slice(0, 40))}`,
    );
  }
  const data = object.data;
  // An IPC stream starts with a continuation marker (0xFFFFFFFF) or, in the legacy format, a length.
  const looksLikeStream = data.byteLength >= 8 && ((data[0] === 0xff && data[1] === 0xff && data[2] === 0xff && data[3] === 0xff) || data[3] === 0);
  if (!looksLikeStream) {
    throw new NotArrowObjectError(`object ${object.id.hex} does not hold an Arrow IPC stream (${data.byteLength} bytes of other data)`);
  }
}

async function getArrowObject(client: PlasmaClient, id: ObjectId, options: GetTableOptions): Promise<ObjectBuffer> {
  const object = await client.getOne(id, { timeoutMs: options.timeoutMs ?? -1 });
  if (!object) throw new ObjectNotAvailableError(`object ${id.hex} is not available (not sealed within ${options.timeoutMs} ms)`);
  try {
    checkArrow(object);
  } catch (error) {
    object.release();
    throw error;
  }
  return object;
}

/**
 * Open an object as an Arrow Table without copying: the column buffers are views of the store's
 * memory. The object stays pinned while the table (or anything taken from it) is reachable.
 */
export async function getTable(client: PlasmaClient, id: ObjectId, options: GetTableOptions = {}): Promise<Table> {
  const object = await getArrowObject(client, id, options);
  return tableFromIPC(object.data);
}

/** Open an object's record batches without copying (each keeps the object pinned). */
export async function getRecordBatches(
  client: PlasmaClient,
  id: ObjectId,
  options: GetTableOptions = {},
): Promise<{ schema: Schema; batches: RecordBatch[] }> {
  const object = await getArrowObject(client, id, options);
  const reader = RecordBatchReader.from(object.data);
  reader.open();
  const batches = [...reader];
  return { schema: reader.schema, batches };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
