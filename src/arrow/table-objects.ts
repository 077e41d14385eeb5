/**
 * Arrow tables as Plasma objects. An object holds one Arrow IPC stream (schema, dictionaries,
 * record batches) in its data and a marker in its metadata, so any Plasma client, pyarrow
 * included, reads it with `pa.ipc.open_stream(buffer)`. Reading from TypeScript is zero-copy: the
 * returned Table's column buffers are views of the store's shared memory, and the object stays
 * pinned exactly as long as the table (or any column taken from it) is reachable.
 */
import { InternalError } from '../errors.js';
import {
  MessageReader,
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

/**
 * Streams up to this size go inline (createAndSeal: one round trip instead of create + seal);
 * below it the round trip, not the copy, is what a put costs.
 */
const INLINE_PUT_BYTES = 64 * 1024;

/** Metadata of objects that hold an Arrow IPC stream. */
export const ARROW_STREAM_METADATA = new TextEncoder().encode('plasmapool/arrow-ipc-stream;v=1');

/** The object exists but does not hold an Arrow IPC stream. */
export class NotArrowObjectError extends PlasmaStoreError {
  override name = 'NotArrowObjectError';
  override readonly code: string = 'NOT_ARROW_OBJECT';
}

/** getTable/getRecordBatches: the object was not sealed within the timeout. */
export class ObjectNotAvailableError extends PlasmaStoreError {
  override name = 'ObjectNotAvailableError';
  override readonly code: string = 'OBJECT_NOT_AVAILABLE';
}

/** Options of putTable / putRecordBatches. */
export interface PutTableOptions {
  /** Evict unpinned objects to make room (default true). */
  evictIfFull?: boolean;
}

/** Options of getTable / getRecordBatches. */
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
 * the object's memory, seal (small streams go inline in one round trip). Returns the object's
 * size in bytes.
 */
export async function putRecordBatches(
  client: PlasmaClient,
  id: ObjectId,
  schema: Schema,
  batches: readonly RecordBatch[],
  options: PutTableOptions = {},
): Promise<number> {
  checkOwnArrow(schema, Schema, 'putRecordBatches: the schema');
  for (const batch of batches) checkOwnArrow(batch, RecordBatch, 'putRecordBatches: a record batch');
  const size = ipcStreamSize(schema, batches);
  if (size <= INLINE_PUT_BYTES && options.evictIfFull !== false) {
    const bytes = new Uint8Array(size);
    const sink = new TargetSink(bytes);
    writeStream(sink, schema, batches);
    if (sink.position !== size) throw new InternalError(`Arrow IPC wrote ${sink.position} bytes, ${size} were measured`);
    await client.createAndSeal(id, bytes, ARROW_STREAM_METADATA);
    return size;
  }
  const object = await client.create(id, size, { metadata: ARROW_STREAM_METADATA, evictIfFull: options.evictIfFull });
  try {
    // Through write(): the chunks arrive in order, so seal's digest is computed as they are copied.
    const sink = new TargetSink({ byteLength: size, set: (bytes, offset) => object.write(bytes, offset) });
    writeStream(sink, schema, batches);
    if (sink.position !== size) throw new InternalError(`Arrow IPC wrote ${sink.position} bytes, ${size} were measured`);
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
  checkOwnArrow(table, Table, 'putTable: the table');
  return putRecordBatches(client, id, table.schema, table.batches, options);
}

/**
 * Arrow's IPC writer recognises types by class identity, so a Table, Schema or RecordBatch made
 * by another copy of apache-arrow (npm link, a nested install, another major version) would be
 * written as a corrupt stream without any error. Refuse it, naming the cause and the fix.
 */
function checkOwnArrow(value: unknown, expected: abstract new (...args: never[]) => unknown, what: string): void {
  // Not instanceof: apache-arrow's classes answer instanceof by duck typing (Symbol.hasInstance),
  // which is exactly what lets a foreign Table through.
  if (typeof value === 'object' && value !== null && Object.prototype.isPrototypeOf.call(expected.prototype, value)) return;
  const name = (value as { constructor?: { name?: string } } | null)?.constructor?.name;
  if (name === expected.name) {
    throw new ForeignArrowError(
      `${what} was made by another copy of apache-arrow than the one plasmapool uses, and writing it would corrupt the stream. ` +
        'Make your project and plasmapool share one apache-arrow (it is a peer dependency: `npm ls apache-arrow` shows the copies; ' +
        '`npm dedupe` or one version range joins them), or hand over the IPC bytes: tableFromIPC(tableToIPC(table)) with plasmapool\'s apache-arrow.',
    );
  }
  throw new TypeError(`${what} must be an apache-arrow ${expected.name}, got ${name ?? typeof value}`);
}

/** A Table, Schema or RecordBatch from another copy of apache-arrow (see checkOwnArrow). */
export class ForeignArrowError extends PlasmaStoreError {
  override name = 'ForeignArrowError';
  override readonly code: string = 'FOREIGN_ARROW';
}

function describe(object: ObjectBuffer): string {
  const metadata = object.metadata;
  const marker = metadata.byteLength > 0 ? `, metadata ${JSON.stringify(Buffer.from(metadata.subarray(0, 40)).toString('latin1'))}` : '';
  return `object ${object.id.hex} (${object.dataSize} bytes of data${marker})`;
}

/**
 * Fail clearly unless the object holds an Arrow IPC stream: our marker, or (pyarrow writes no
 * marker) data that starts like a stream: a continuation marker 0xFFFFFFFF and a positive
 * metadata length, or the pre-0.15 form with the length first.
 */
function checkArrow(object: ObjectBuffer): void {
  if (equalBytes(object.metadata, ARROW_STREAM_METADATA)) return;
  const data = object.data;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const continuation = data.byteLength >= 8 && view.getUint32(0, true) === 0xffffffff;
  const length = data.byteLength >= 8 ? view.getInt32(continuation ? 4 : 0, true) : 0;
  const headerEnd = (continuation ? 8 : 4) + length;
  if (length <= 0 || headerEnd > data.byteLength) {
    throw new NotArrowObjectError(`${describe(object)} does not hold an Arrow IPC stream: write it with putTable or pyarrow's ipc.new_stream`);
  }
}

/**
 * Parse, turning Arrow's errors about malformed input into NotArrowObjectError. Arrow JS reads a
 * stream whose first message is not a schema as an empty table, so that is checked first.
 */
function parseArrow<T>(object: ObjectBuffer, parse: (data: Uint8Array) => T): T {
  const data = object.data;
  let problem: string;
  try {
    const first = new MessageReader(data).readMessage();
    if (first?.isSchema()) return parse(data);
    problem = 'its first message is not a schema';
  } catch (error) {
    if (error instanceof NotArrowObjectError) throw error;
    throw new NotArrowObjectError(`${describe(object)} is not a readable Arrow IPC stream: ${(error as Error).message}`, { cause: error });
  }
  throw new NotArrowObjectError(`${describe(object)} is not a readable Arrow IPC stream: ${problem}`);
}

async function getArrowObject<T>(client: PlasmaClient, id: ObjectId, options: GetTableOptions, parse: (data: Uint8Array) => T): Promise<T> {
  const timeoutMs = options.timeoutMs ?? -1;
  const object = await client.getOne(id, { timeoutMs });
  if (!object) throw new ObjectNotAvailableError(`object ${id.hex} is not available: not sealed within ${timeoutMs} ms`);
  try {
    checkArrow(object);
    return parseArrow(object, parse);
  } catch (error) {
    object.release();
    throw error;
  }
  // On success the ObjectBuffer itself is dropped: what parse returned keeps its ArrayBuffer,
  // and with it the object's pin, alive (see ObjectBuffer).
}

/**
 * Open an object as an Arrow Table without copying: the column buffers are views of the store's
 * memory. The object stays pinned while the table (or anything taken from it) is reachable.
 * Throws ObjectNotAvailableError after the timeout, NotArrowObjectError for other data.
 */
export async function getTable(client: PlasmaClient, id: ObjectId, options: GetTableOptions = {}): Promise<Table> {
  return getArrowObject(client, id, options, (data) => tableFromIPC(data));
}

/** Open an object's record batches without copying (each keeps the object pinned). */
export async function getRecordBatches(
  client: PlasmaClient,
  id: ObjectId,
  options: GetTableOptions = {},
): Promise<{ schema: Schema; batches: RecordBatch[] }> {
  return getArrowObject(client, id, options, (data) => {
    const reader = RecordBatchReader.from(data);
    reader.open();
    // Read the schema first: the reader forgets it once iterated to the end.
    const schema = reader.schema;
    const batches = [...reader];
    return { schema, batches };
  });
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
