/**
 * Arrow tables between TypeScript and the real pyarrow 11 Plasma client, both ways, compared
 * exactly: every value of a table with dictionary, string, large string, list, struct,
 * timestamp and null-bearing columns (canonical JSON from both languages), an empty table, and
 * per-column digests of a table larger than 100 MB. Tables written by pyarrow open zero-copy.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { getTable, ObjectId, putTable, type PlasmaClient } from '../../src/index.js';
import { native } from '../../src/native/index.js';
import { repoRoot } from '../helpers/processes.js';
import { allBuffers, bigTable, canonicalTable, columnDigests, emptyTable, mixedTable } from '../arrow/table-fixtures.js';
import { mappingsOf, refCountOf, storeWithClient, within } from '../client/support.js';

const run = promisify(execFile);
const python = path.join(repoRoot, '.venv/bin/python');
const script = path.join(import.meta.dirname, 'plasma_tables.py');
const BIG = 110 * 1000 * 1000;

/** Run plasma_tables.py against the store; returns {hex: description}. */
async function pyarrow(socketPath: string, command: 'read' | 'write', objects: object[]): Promise<Record<string, any>> {
  if (!fs.existsSync(python)) throw new Error(`${python} is missing: run \`bash scripts/setup-python.sh --no-notebooks\` (pyarrow 11)`);
  const { stdout } = await run(python, [script, socketPath, command, JSON.stringify({ objects })], {
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout);
}

async function noReferences(client: PlasmaClient): Promise<boolean> {
  return (await client.list()).every((o) => o.refCount === 0);
}

describe('interop with pyarrow 11', () => {
  it('tables put from TypeScript read identically in pyarrow (pa.ipc.open_stream over the plasma buffer)', async () => {
    const { client } = await storeWithClient('512MiB');
    const tables = { mixed: mixedTable(500, 2), empty: emptyTable(), big: bigTable(BIG) };
    const ids = { mixed: ObjectId.random(), empty: ObjectId.random(), big: ObjectId.random() };
    const bigSize = await putTable(client, ids.big, tables.big);
    expect(bigSize).toBeGreaterThan(100 * 1024 * 1024);
    await putTable(client, ids.mixed, tables.mixed);
    await putTable(client, ids.empty, tables.empty);

    const seen = await pyarrow(client.socketPath, 'read', [
      { id: ids.mixed.hex, describe: 'canonical' },
      { id: ids.empty.hex, describe: 'canonical' },
      { id: ids.big.hex, describe: 'digests' },
    ]);
    expect(seen[ids.mixed.hex]).toEqual(canonicalTable(tables.mixed));
    expect(seen[ids.empty.hex]).toEqual(canonicalTable(tables.empty));
    expect(seen[ids.empty.hex].rows).toBe(0);
    expect(seen[ids.big.hex]).toEqual(columnDigests(tables.big));
    // pyarrow released what it read when it disconnected.
    expect(await noReferences(client)).toBe(true);
  });

  it('tables written by pyarrow into plasma objects open zero-copy and identical in getTable', async () => {
    const { store, client } = await storeWithClient('512MiB');
    const ids = { mixed: ObjectId.random(), empty: ObjectId.random(), big: ObjectId.random() };
    const written = await pyarrow(client.socketPath, 'write', [
      { id: ids.mixed.hex, table: 'mixed' },
      { id: ids.empty.hex, table: 'empty' },
      { id: ids.big.hex, table: 'big', bytes: BIG },
    ]);

    const mixed = await getTable(client, ids.mixed);
    expect(mixed.batches.length).toBe(2);
    expect(canonicalTable(mixed)).toEqual(written[ids.mixed.hex]);
    const empty = await getTable(client, ids.empty);
    expect(empty.numRows).toBe(0);
    expect(canonicalTable(empty)).toEqual(written[ids.empty.hex]);
    const big = await getTable(client, ids.big);
    expect(columnDigests(big)).toEqual(written[ids.big.hex]);

    // Zero-copy: every buffer of every column is a view of the object's own ArrayBuffer, inside
    // this process's single mapping of the store's region.
    const ranges = mappingsOf(store.regionPath);
    expect(ranges.length).toBeGreaterThan(0);
    const listed = new Map((await client.list()).map((o) => [o.id.hex, o]));
    for (const [name, table] of [['mixed', mixed], ['big', big]] as const) {
      const buffers = allBuffers(table);
      expect(buffers.length).toBeGreaterThan(10);
      const memory = buffers[0]!.buffer;
      expect(memory.byteLength).toBe(listed.get(ids[name].hex)!.dataSize);
      for (const view of buffers) {
        expect(view.buffer).toBe(memory);
        expect(within(ranges, native.addressOf(view), view.byteLength)).toBe(true);
      }
    }
    expect(await refCountOf(client, ids.big.hex)).toBe(1);
  });
});
