// One error base class: everything the package exports as an error extends PlasmapoolError and
// carries a stable, distinct code; errors from the public API are of these classes.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as core from '../../src/index.js';
import * as shuffle from '../../src/shuffle.js';
import { tempDir } from '../helpers/processes.js';

describe('errors', () => {
  it('1. every exported error class extends PlasmapoolError and has its own code', () => {
    const classes = [...Object.entries(core), ...Object.entries(shuffle)].filter(
      ([name, value]) => typeof value === 'function' && /Error$/.test(name),
    ) as [string, new (message: string) => Error][];
    expect(classes.length).toBeGreaterThanOrEqual(15);
    const codes = new Map<string, string>();
    for (const [name, Class] of classes) {
      const error = new Class('test');
      expect(error, name).toBeInstanceOf(core.PlasmapoolError);
      expect(error.name, name).toBe(name);
      const code = (error as core.PlasmapoolError).code;
      expect(code, name).toMatch(/^[A-Z_]+$/);
      codes.set(code, [codes.get(code), name].filter(Boolean).join(', '));
    }
    // Only a subclass that refines a connection failure shares its parent's code.
    expect([...codes].filter(([, names]) => names.includes(',')).map(([, names]) => names)).toEqual(['StoreUnreachableError, PlasmaConnectionError']);
  });

  it('2. the public API throws them: bad options, no store, a missing object', async () => {
    await expect(core.startStore({ memory: 'lots' })).rejects.toMatchObject({ code: 'INVALID_OPTION', name: 'InvalidOptionError' });
    const file = path.join(tempDir(), 'file');
    fs.writeFileSync(file, '');
    await expect(core.startStore({ memory: '16MiB', dir: file })).rejects.toThrow(core.InvalidOptionError);
    await expect(core.startStore({ memory: '16MiB', externalStore: 'ftp://x' })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(core.connect(path.join(tempDir(), 'none.sock'), { retries: 0 })).rejects.toMatchObject({ code: 'STORE_UNREACHABLE' });
    await expect(core.storeStat(path.join(tempDir(), 'none.sock'))).rejects.toBeInstanceOf(core.StoreUnreachableError);

    const store = await core.startStore({ memory: '16MiB' });
    try {
      const client = await core.connect(store.socketPath);
      const id = core.ObjectId.fromName('errors/raw');
      await client.createAndSeal(id, new Uint8Array([1, 2, 3]));
      await expect(client.createAndSeal(id, new Uint8Array(1))).rejects.toMatchObject({ code: 'OBJECT_EXISTS' });
      await expect(core.getTable(client, id, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'NOT_ARROW_OBJECT' });
      await expect(core.getTable(client, core.ObjectId.fromName('errors/none'), { timeoutMs: 0 })).rejects.toMatchObject({ code: 'OBJECT_NOT_AVAILABLE' });
      await expect(client.create(core.ObjectId.fromName('errors/huge'), 64 * 1024 * 1024)).rejects.toMatchObject({ code: 'STORE_FULL' });
      client.close();
    } finally {
      await store.close();
    }
  });
});
