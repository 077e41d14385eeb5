/**
 * Arrow tables as Plasma objects: putTable writes one IPC stream straight into the object (one
 * copy, byte-identical to tableToIPC), getTable opens it zero-copy (proved by buffer identity
 * and addresses inside the client's mapping of the store's region), record batch streams keep
 * their batches, and objects that are not Arrow IPC fail clearly.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { tableFromArrays, tableToIPC, type Table } from 'apache-arrow';
import { describe, expect, it, vi } from 'vitest';
import {
  ARROW_STREAM_METADATA,
  getRecordBatches,
  getTable,
  ipcStreamSize,
  NotArrowObjectError,
  ObjectId,
  ObjectNotAvailableError,
  PlasmaObjectExistsError,
  PlasmaStoreFullError,
  putRecordBatches,
  putTable,
} from '../../src/index.js';
import { TargetSink } from '../../src/arrow/ipc-sinks.js';
import { native } from '../../src/native/index.js';
import { connectClient, mappingsOf, refCountOf, storeWithClient, within } from '../client/support.js';
import { allBuffers, bigTable, canonicalTable, emptyTable, mixedTable } from './table-fixtures.js';

describe('putTable', () => {
  it('writes exactly the bytes of tableToIPC(table, "stream") and marks the object as Arrow', async () => {
    const { client } = await storeWithClient();
    for (const table of [mixedTable(300, 3), emptyTable(), bigTable(4_000_000)]) {
      const id = ObjectId.random();
      const size = await putTable(client, id, table);
      const expected = tableToIPC(table, 'stream');
      expect(size).toBe(expected.byteLength);
      expect(ipcStreamSize(table.schema, table.batches)).toBe(size);
      const object = (await client.getOne(id))!;
      expect(Buffer.from(object.data).equals(Buffer.from(expected))).toBe(true);
      expect(object.metadata).toEqual(ARROW_STREAM_METADATA);
      object.release();
      expect(await refCountOf(client, id.hex)).toBe(0); // putTable kept no reference
    }
  });

  it('makes one copy: every large chunk written into the object is a view of the table’s own buffers', async () => {
    const { client } = await storeWithClient('256MiB');
    const table = bigTable(64 * 1000 * 1000);
    const sources = new Set(allBuffers(table).map((view) => view.buffer));
    const write = vi.spyOn(TargetSink.prototype, 'write');
    const before = process.memoryUsage().arrayBuffers;
    const size = await putTable(client, ObjectId.random(), table);
    const grown = process.memoryUsage().arrayBuffers - before;
    const chunks = write.mock.calls.map(([chunk]) => chunk as ArrayBufferView);
    write.mockRestore();
    const large = chunks.filter((chunk) => chunk.byteLength > 4096);
    expect(large.reduce((sum, chunk) => sum + chunk.byteLength, 0)).toBeGreaterThan(0.99 * size);
    for (const chunk of large) expect(sources.has(chunk.buffer)).toBe(true);
    // No intermediate copy of the stream was allocated on the JS heap (tableToIPC would add 64 MB).
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });

  it('puts small tables inline (no mapping needed), large ones through the mapped region', async () => {
    const { client } = await storeWithClient();
    const small = mixedTable(20, 1);
    expect(ipcStreamSize(small.schema, small.batches)).toBeLessThan(64 * 1024);
    await putTable(client, ObjectId.random(), small);
    expect(client.mappedSegments).toBe(0);
    await putTable(client, ObjectId.random(), bigTable(200_000));
    expect(client.mappedSegments).toBe(1);
  });

  it('refuses an existing id and leaves the existing object intact', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    const original = tableFromArrays({ x: Int32Array.from([1, 2, 3]) });
    await putTable(client, id, original);
    await expect(putTable(client, id, tableFromArrays({ y: Float64Array.from([9]) }))).rejects.toThrow(PlasmaObjectExistsError);
    expect(canonicalTable(await getTable(client, id))).toEqual(canonicalTable(original));
  });

  it('says when the store is too small for the table', async () => {
    const { client } = await storeWithClient('16MiB');
    await expect(putTable(client, ObjectId.random(), bigTable(40 * 1000 * 1000))).rejects.toThrow(PlasmaStoreFullError);
    expect(await client.list()).toEqual([]);
  });
});

describe('getTable', () => {
  it('is zero-copy: every column buffer is a view of the object’s ArrayBuffer inside the mapped region', async () => {
    const { store, client } = await storeWithClient();
    const id = ObjectId.random();
    const source = mixedTable(400, 2);
    await putTable(client, id, source);
    const table = await getTable(client, id);
    expect(canonicalTable(table)).toEqual(canonicalTable(source));

    const object = (await client.getOne(id))!;
    const buffers = allBuffers(table);
    expect(buffers.length).toBeGreaterThan(20);
    const memory = table.getChild('f64')!.data[0]!.values.buffer;
    expect(memory.byteLength).toBe(object.dataSize + object.metadataSize);
    expect(native.addressOf(memory)).toBe(native.addressOf(object.buffer));
    const ranges = mappingsOf(store.regionPath);
    expect(ranges.length).toBeGreaterThan(0);
    for (const view of buffers) {
      expect(view.buffer).toBe(memory);
      expect(within(ranges, native.addressOf(view), view.byteLength)).toBe(true);
    }
    // Shared memory, not a snapshot: a byte changed in the object shows in the table.
    const values = table.getChild('f64')!.data[0]!.values as Float64Array;
    const at = (native.addressOf(values) - native.addressOf(object.buffer)) as bigint;
    new Float64Array(object.buffer, Number(at), 2)[1] = 12345.5;
    expect(table.getChild('f64')!.get(1)).toBe(12345.5);
  });

  it('waits for a table put later (timeout -1); times out with ObjectNotAvailableError', async () => {
    const { store, client } = await storeWithClient();
    const producer = await connectClient(store.socketPath);
    const id = ObjectId.random();
    await expect(getTable(client, id, { timeoutMs: 0 })).rejects.toThrow(ObjectNotAvailableError);
    await expect(getTable(client, id, { timeoutMs: 50 })).rejects.toThrow(/not sealed within 50 ms/);
    const pending = getTable(client, id);
    await sleep(100);
    await putTable(producer, id, tableFromArrays({ x: Float64Array.from([1.5, 2.5]) }));
    expect([...(await pending).getChild('x')!]).toEqual([1.5, 2.5]);
  });

  it('an empty table round-trips with its schema', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    const source = emptyTable();
    await putTable(client, id, source);
    const table: Table = await getTable(client, id);
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.map((f) => [f.name, String(f.type)])).toEqual(source.schema.fields.map((f) => [f.name, String(f.type)]));
  });
});

describe('record batches', () => {
  it('putRecordBatches / getRecordBatches keep the batches, zero-copy', async () => {
    const { client } = await storeWithClient();
    const source = mixedTable(250, 4);
    const id = ObjectId.random();
    await putRecordBatches(client, id, source.schema, source.batches);
    const { schema, batches } = await getRecordBatches(client, id);
    expect(schema.fields.map((f) => f.name)).toEqual(source.schema.fields.map((f) => f.name));
    expect(batches.map((b) => b.numRows)).toEqual([250, 250, 250, 250]);
    const memory = batches[0]!.data.children[0]!.values.buffer;
    for (const batch of batches) expect(batch.data.children[2]!.values.buffer).toBe(memory);
    expect(await refCountOf(client, id.hex)).toBe(1);
  });
});

describe('objects that are not Arrow IPC', () => {
  it('fail with NotArrowObjectError naming the object, and are not left pinned', async () => {
    const { client } = await storeWithClient();
    const cases: [string, Uint8Array, Uint8Array?][] = [
      ['random bytes', Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 255)],
      ['text with foreign metadata', new TextEncoder().encode('{"not": "arrow"}'), new TextEncoder().encode('application/json')],
      ['an empty object', new Uint8Array(0)],
      ['a stream header with a garbage message', Uint8Array.from([0xff, 0xff, 0xff, 0xff, 16, 0, 0, 0, ...new Array(16).fill(0x41), 0, 0, 0, 0])],
      ['a truncated Arrow stream', tableToIPC(mixedTable(50, 1), 'stream').subarray(0, 300)],
    ];
    for (const [what, data, metadata] of cases) {
      const id = ObjectId.random();
      await client.createAndSeal(id, data, metadata);
      const failure = getTable(client, id, { timeoutMs: 0 });
      await expect(failure, what).rejects.toThrow(NotArrowObjectError);
      await expect(getTable(client, id, { timeoutMs: 0 }), what).rejects.toThrow(new RegExp(`object ${id.hex}`));
      await expect(getRecordBatches(client, id, { timeoutMs: 0 }), what).rejects.toThrow(NotArrowObjectError);
      expect(await refCountOf(client, id.hex), what).toBe(0);
    }
  });
});
