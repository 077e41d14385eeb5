// `plasmapool ls | stat | get | rm | evict` against a real store process, as a user runs them.
import fs from 'node:fs';
import path from 'node:path';
import { tableFromArrays, tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { putTable } from '../../src/arrow/table-objects.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import type { AdminObject, AdminStat } from '../../src/protocol/admin.js';
import { storeWithClient } from '../client/support.js';
import { tempDir } from '../helpers/processes.js';
import { runCli, runJson } from './run-cli.js';

type Ls = { objects: AdminObject[] };

describe('cli: inspection commands against a running store', () => {
  it('1. ls shows id, size, state, age, pins and location; stat shows capacity, used, objects, clients', async () => {
    const { store, client } = await storeWithClient('64MiB');
    const sealed = ObjectId.fromName('inspect/sealed');
    await client.createAndSeal(sealed, new Uint8Array(1000), new Uint8Array(24));
    const unsealed = ObjectId.fromName('inspect/unsealed');
    await client.create(unsealed, 5000);
    const held = await client.getOne(sealed);

    const { objects } = await runJson<Ls>(['ls', '-s', store.socketPath]);
    const byId = new Map(objects.map((o) => [o.id, o]));
    expect(byId.get(sealed.hex)).toMatchObject({ dataSize: 1000, metadataSize: 24, state: 'sealed', location: { kind: 'local' } });
    expect(byId.get(sealed.hex)!.pins).toBe(1);
    expect(byId.get(unsealed.hex)).toMatchObject({ dataSize: 5000, state: 'created' });
    expect(Math.abs(byId.get(sealed.hex)!.createTime - Date.now() / 1000)).toBeLessThan(60);

    const stat = await runJson<AdminStat>(['stat', '-s', store.socketPath]);
    expect(stat).toMatchObject({ capacity: 64 * 1024 * 1024, used: 1024 + 5000, objects: 2, objectsByState: { sealed: 1, created: 1, evicted: 0 } });
    expect(stat.clients).toBe(1); // our client; the asking connection is not counted
    expect(stat.pid).toBe(store.child.pid);

    // The human forms: tables with units.
    const ls = await runCli(['ls', '-s', store.socketPath]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/^ID\s+SIZE\s+STATE\s+AGE\s+PINS\s+LOCATION/);
    expect(ls.stdout).toMatch(new RegExp(`${sealed.hex}\\s+1\\.00 KiB\\s+sealed\\s+\\d+s\\s+1\\s+local`));
    const human = await runCli(['stat', '-s', store.socketPath]);
    expect(human.stdout).toMatch(/capacity\s+64\.0 MiB \(67108864 B\)/);
    expect(human.stdout).toMatch(/objects\s+2 \(sealed 1, being created 1/);

    held!.release();
  });

  it('2. get prints an Arrow object\'s schema and first rows; -o writes its data', async () => {
    const { store, client } = await storeWithClient('64MiB');
    const id = ObjectId.fromName('inspect/table');
    const n = 50;
    await putTable(client, id, tableFromArrays({ x: Int32Array.from({ length: n }, (_, i) => i * 3), name: Array.from({ length: n }, (_, i) => `row-${i}`) }));
    const out = path.join(tempDir(), 'table.arrows');

    const human = await runCli(['get', '-s', store.socketPath, id.hex, '-o', out, '--rows', '3']);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`Arrow table: ${n} rows, 2 columns`);
    expect(human.stdout).toMatch(/x: Int32/);
    expect(human.stdout).toMatch(/first 3 rows:\n\s*x\s+name\n\s*0\s+row-0\n\s*3\s+row-1\n\s*6\s+row-2\n/);
    expect(tableFromIPC(fs.readFileSync(out)).getChild('name')!.get(49)).toBe('row-49');

    const json = await runJson<{ arrow: { numRows: number; schema: { name: string }[]; rows: unknown[] } }>(['get', '-s', store.socketPath, id.hex]);
    expect(json.arrow.numRows).toBe(n);
    expect(json.arrow.schema.map((f) => f.name)).toEqual(['x', 'name']);
    expect(json.arrow.rows[1]).toEqual({ x: 3, name: 'row-1' });

    const raw = ObjectId.fromName('inspect/raw');
    await client.createAndSeal(raw, Uint8Array.from([0xde, 0xad, 0xbe, 0xef]));
    const rawOut = await runCli(['get', '-s', store.socketPath, raw.hex]);
    expect(rawOut.stdout).toContain('not an Arrow IPC stream; first bytes: deadbeef');

    const missing = await runCli(['get', '-s', store.socketPath, ObjectId.fromName('inspect/none').hex]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/is not in the store/);
  });

  it('3. rm deletes objects and names the ones it did not find; evict frees unpinned memory', async () => {
    const { store, client } = await storeWithClient('64MiB');
    const ids = [1, 2, 3].map((i) => ObjectId.fromName(`inspect/rm-${i}`));
    for (const id of ids) await client.createAndSeal(id, new Uint8Array(100_000));

    const rm = await runCli(['rm', '-s', store.socketPath, ids[0]!.hex, ObjectId.fromName('inspect/absent').hex]);
    expect(rm.code).toBe(1);
    expect(rm.stdout).toContain(`${ids[0]!.hex}  deleted`);
    expect(rm.stderr).toMatch(/1 of 2 objects not found/);
    expect(await client.contains(ids[0]!)).toBe(false);

    const evict = await runJson<{ evicted: number }>(['evict', '-s', store.socketPath, '150kB']);
    expect(evict.evicted).toBeGreaterThanOrEqual(150_000);
    const stat = await runJson<AdminStat>(['stat', '-s', store.socketPath]);
    expect(stat.evictions).toBe(2);
    expect(stat.evictedBytes).toBe(200_000);
    expect(stat.objects).toBe(0);
  });

  it('4. a spilled object shows where it lives, and stat counts spills', async () => {
    const spillDir = tempDir('pp-spill-');
    const { store, client } = await storeWithClient('64MiB', ['-e', `file://${spillDir}`]);
    const id = ObjectId.fromName('inspect/spill');
    await client.createAndSeal(id, new Uint8Array(4096));
    await client.evict(4096);
    const { objects } = await runJson<Ls>(['ls', '-s', store.socketPath]);
    expect(objects).toEqual([expect.objectContaining({ id: id.hex, state: 'evicted', location: { kind: 'external' } })]);
    const stat = await runJson<AdminStat>(['stat', '-s', store.socketPath]);
    expect(stat).toMatchObject({ spilledObjects: 1, spills: 1, spilledBytes: 4096, used: 0 });
    expect((await runCli(['ls', '-s', store.socketPath])).stdout).toMatch(/evicted\s+\d+s\s+0\s+spilled \(external store\)/);
  });

  it('5. clear errors when no store is there (exit 1) and for a bad id or size (exit 2)', async () => {
    const dir = tempDir();
    const socket = path.join(dir, 'none.sock');
    for (const args of [['ls'], ['stat'], ['get', '00'.repeat(20)], ['rm', '00'.repeat(20)], ['evict', '1MB']]) {
      const result = await runCli([...args, '-s', socket]);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr, args.join(' ')).toMatch(new RegExp(`${socket}.*no such socket`));
      expect(result.stderr).not.toMatch(/is the store running.*is the store running/is);
    }
    // A socket nobody listens on.
    fs.writeFileSync(path.join(dir, 'file.sock'), '');
    expect((await runCli(['stat', '-s', path.join(dir, 'file.sock')])).code).toBe(1);

    const badId = await runCli(['get', '-s', socket, 'not-an-id']);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/"not-an-id" is not an object id: give 40 hex digits/);
    const badSize = await runCli(['evict', '-s', socket, 'lots']);
    expect(badSize.code).toBe(2);
    expect(badSize.stderr).toMatch(/invalid size "lots"/);
  });
});

describe('cli: the admin query on the wire', () => {
  it('6. a bad or oversized admin request gets an error reply and the store keeps serving', async () => {
    const { native } = await import('../../src/native/index.js');
    const { ADMIN_REQUEST_TYPE, ADMIN_REPLY_TYPE, decodeAdminReply } = await import('../../src/protocol/admin.js');
    const { store, client } = await storeWithClient('16MiB');
    for (const body of [Buffer.from('{"op":"drop-everything"}'), Buffer.from('not json'), Buffer.alloc(64 * 1024, 0x7b)]) {
      const channel = native.connect(store.socketPath, 'plasma');
      const reply = await new Promise<{ type: number; body: Buffer }>((resolve, reject) => {
        channel.start({ onFrame: (type, frame) => resolve({ type, body: frame }), onFd: () => undefined, onClose: (reason) => reject(new Error(reason ?? 'closed')) });
        channel.sendFrame(ADMIN_REQUEST_TYPE, body);
      });
      channel.close();
      expect(reply.type).toBe(ADMIN_REPLY_TYPE);
      expect(decodeAdminReply(reply.body)).toMatchObject({ op: 'error', message: expect.stringContaining('bad admin request') });
    }
    await client.createAndSeal(ObjectId.fromName('admin/after'), new Uint8Array(8));
    expect((await runJson<AdminStat>(['stat', '-s', store.socketPath])).objects).toBe(1);
  });
});
