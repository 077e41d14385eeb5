/**
 * Lifetimes: objects stay pinned while anything references their memory, and are released
 * explicitly, by `using`, or by the garbage collector; a view used after release reads as empty
 * (detached) instead of reading memory the store has recycled.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { tableFromArrays } from 'apache-arrow';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { getTable, ObjectId, ObjectReleasedError, putTable, type PlasmaClient } from '../../src/index.js';
import { native } from '../../src/native/index.js';
import { repoRoot, tempDir } from '../helpers/processes.js';
import { collectUntil, connectClient, refCountOf, storeWithClient } from './support.js';

const run = promisify(execFile);

/** Get an object and keep only what `keep` returns; everything else becomes garbage. */
async function getAndKeep<T>(client: PlasmaClient, id: ObjectId, keep: (data: Uint8Array) => T): Promise<T> {
  const buffer = (await client.getOne(id))!;
  return keep(buffer.data);
}

describe('automatic release after garbage collection', () => {
  it('a dropped buffer releases its object', async () => {
    const { store, client } = await storeWithClient();
    const observer = await connectClient(store.socketPath);
    const id = ObjectId.random();
    await observer.createAndSeal(id, new Uint8Array(64).fill(1));
    const sum = await getAndKeep(client, id, (data) => data.reduce((a, b) => a + b, 0));
    expect(sum).toBe(64);
    expect(await refCountOf(observer, id.hex)).toBe(1);
    expect(await collectUntil(async () => (await refCountOf(observer, id.hex)) === 0)).toBe(true);
  });

  it('a view outliving its ObjectBuffer keeps the object pinned until the view is dropped too', async () => {
    const { store, client } = await storeWithClient();
    const observer = await connectClient(store.socketPath);
    const id = ObjectId.random();
    await observer.createAndSeal(id, new Uint8Array(64).fill(2));
    let view: Uint8Array | null = await getAndKeep(client, id, (data) => data.subarray(8, 16));
    expect(await collectUntil(async () => (await refCountOf(observer, id.hex)) === 0, 8)).toBe(false);
    expect([...view]).toEqual(new Array(8).fill(2));
    view = null;
    expect(await collectUntil(async () => (await refCountOf(observer, id.hex)) === 0)).toBe(true);
  });

  it('an Arrow table keeps its object pinned while reachable and releases it when collected', async () => {
    const { store, client } = await storeWithClient();
    const observer = await connectClient(store.socketPath);
    const id = ObjectId.random();
    await putTable(observer, id, tableFromArrays({ x: Float64Array.from({ length: 1000 }, (_, i) => i) }));
    let column: ReturnType<Awaited<ReturnType<typeof getTable>>['getChild']> = (await getTable(client, id)).getChild('x');
    expect(await collectUntil(async () => (await refCountOf(observer, id.hex)) === 0, 8)).toBe(false);
    expect(column!.get(999)).toBe(999);
    column = null;
    expect(await collectUntil(async () => (await refCountOf(observer, id.hex)) === 0)).toBe(true);
  });

  it('many dropped buffers release every object (no leak of store memory)', async () => {
    const { store, client } = await storeWithClient('16MiB');
    const observer = await connectClient(store.socketPath);
    const ids = Array.from({ length: 40 }, () => ObjectId.random());
    for (const id of ids) await observer.createAndSeal(id, new Uint8Array(256 * 1024));
    for (const id of ids) await getAndKeep(client, id, (data) => data[0]);
    const pinned = async () => (await observer.list()).filter((o) => o.refCount > 0).length;
    expect(await collectUntil(async () => (await pinned()) === 0)).toBe(true);
  });
});

describe('explicit release', () => {
  it('release() unpins at once; the buffer then throws and its views read as empty', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    await client.createAndSeal(id, new Uint8Array(100).fill(5));
    const buffer = (await client.getOne(id))!;
    const view = buffer.data;
    const metadata = buffer.metadata;
    buffer.release();
    expect(await refCountOf(client, id.hex)).toBe(0);
    expect(() => buffer.data).toThrow(ObjectReleasedError);
    expect(() => buffer.buffer).toThrow(/released; get it again/);
    expect(view.byteLength).toBe(0);
    expect(view[0]).toBeUndefined();
    expect(metadata.byteLength).toBe(0);
  });

  it('after release the store recycles the memory, and the old view still reads nothing of it', async () => {
    const { client } = await storeWithClient('16MiB');
    const id = ObjectId.random();
    await client.createAndSeal(id, new Uint8Array(4096).fill(0xaa));
    const buffer = (await client.getOne(id))!;
    const address = native.addressOf(buffer.data);
    const view = buffer.data;
    buffer.release();
    await client.delete([id]);
    const reuse = ObjectId.random();
    await client.createAndSeal(reuse, new Uint8Array(4096).fill(0x55));
    const recycled = (await client.getOne(reuse))!;
    expect(native.addressOf(recycled.data)).toBe(address); // same memory, new object
    expect(recycled.data[0]).toBe(0x55);
    expect(view.byteLength).toBe(0);
    expect(view[0]).toBeUndefined();
  });

  it('a table built from a released object reads as empty, not as recycled memory', async () => {
    const { client } = await storeWithClient();
    const id = ObjectId.random();
    await putTable(client, id, tableFromArrays({ x: Int32Array.from([1, 2, 3]) }));
    const table = await getTable(client, id);
    const values = table.getChild('x')!.data[0]!.values;
    client.close();
    expect(values.byteLength).toBe(0);
  });
});

describe('using', () => {
  it('compiled by TypeScript 5.9 (ES2022 target) runs on this Node: buffer, stream and client end with their block', async () => {
    const dist = path.join(repoRoot, 'dist/index.js');
    expect(fs.existsSync(dist), 'dist/ is built by `npm run build`').toBe(true);
    const { store, client } = await storeWithClient();
    const id = ObjectId.random();
    await client.createAndSeal(id, Uint8Array.from([4, 5, 6]));

    const source = fs.readFileSync(path.join(import.meta.dirname, 'fixtures/using-block.ts.txt'), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, lib: ['lib.es2022.d.ts', 'lib.esnext.d.ts'] },
    });
    expect(outputText).toContain('__addDisposableResource'); // really lowered, not left to the runtime
    const script = path.join(tempDir(), 'using-block.mjs');
    fs.writeFileSync(script, outputText.replace("'../../../src/index.js'", JSON.stringify(pathToFileURL(dist).href)));
    const { stdout } = await run(process.execPath, [script, store.socketPath, id.hex], { timeout: 20_000 });
    const steps = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(steps).toEqual([
      { step: 'inside', bytes: [4, 5, 6], refCount: 1 },
      { step: 'after', viewLength: 0, refCount: 0 },
      { step: 'subscribed', first: true },
      { step: 'unsubscribed', done: true },
      { step: 'closed', closed: true },
    ]);
  });
});
