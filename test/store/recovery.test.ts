/**
 * Crash recovery of a named region (docs/recovery.md): a store SIGKILLed on `--region FILE` and
 * started again on it serves every object that was sealed before the kill, byte for byte, and
 * nothing else: unsealed allocations are freed, deleted objects stay deleted, and records that
 * do not check out (damaged, pointing outside, digest wrong) are dropped.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { onCleanup, startStoreProcess } from '../helpers/processes.js';

function regionFile(): string {
  const file = path.join('/dev/shm', `pp-test-recovery-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  onCleanup(() => fs.rmSync(file, { force: true }));
  return file;
}

function recoveryLine(stderr: string): Record<string, unknown> {
  const line = stderr.split('\n').find((l) => l.includes('recovered the sealed objects'));
  expect(line, stderr).toBeDefined();
  return JSON.parse(line!) as Record<string, unknown>;
}

describe('a store restarted on its region after SIGKILL', () => {
  it('serves every sealed object again, byte-identical, and nothing that was unsealed or deleted', async () => {
    const file = regionFile();
    const args = ['--region', file, '--log-level', 'info'];
    const first = await startStoreProcess('64MiB', args);
    const client = await connectClient(first.socketPath);
    const kept = new Map<string, { data: Buffer; metadata: Buffer }>();
    for (let i = 0; i < 300; i++) {
      const id = ObjectId.random();
      const data = crypto.randomBytes(i % 7 === 0 ? 200_000 : (i * 37) % 5000);
      const metadata = crypto.randomBytes(i % 3);
      if (i % 2 === 0) {
        await client.createAndSeal(id, data, metadata);
      } else {
        const buffer = await client.create(id, data.length, { metadata });
        buffer.data.set(data);
        await client.seal(id);
        buffer.release();
      }
      kept.set(id.hex, { data, metadata });
    }
    const deleted = [...kept.keys()].filter((_, i) => i % 5 === 0).map((hex) => ObjectId.fromHex(hex));
    await client.delete(deleted);
    for (const id of deleted) kept.delete(id.hex);
    const unsealed = ObjectId.random();
    const open = await client.create(unsealed, 4096);
    open.data.fill(7);
    await first.stop('SIGKILL');

    const second = await startStoreProcess('64MiB', args);
    expect(recoveryLine(second.stderr())).toMatchObject({ objects: kept.size });
    const reader = await connectClient(second.socketPath);
    const listed = await reader.list();
    expect(listed.map((o) => o.id.hex).sort()).toEqual([...kept.keys()].sort());
    for (const info of listed) expect(info.state).toBe('sealed');
    const ids = [...kept.keys()].map((hex) => ObjectId.fromHex(hex));
    const buffers = await reader.get(ids, { timeoutMs: 0 });
    buffers.forEach((buffer, i) => {
      const want = kept.get(ids[i]!.hex)!;
      expect(Buffer.from(buffer!.data).equals(want.data)).toBe(true);
      expect(Buffer.from(buffer!.metadata).equals(want.metadata)).toBe(true);
      buffer!.release();
    });
    expect(await reader.contains(unsealed)).toBe(false);
    // The unsealed object's memory was given back: what is allocated is exactly the recovered bytes.
    const bytes = [...kept.values()].reduce((sum, o) => sum + o.data.length + o.metadata.length, 0);
    expect(await reader.debugString()).toContain(`allocated bytes: ${bytes}\n`);
    // The recovered objects behave like any other: deletable, and the id can be used again.
    await reader.delete([ids[0]!]);
    await reader.createAndSeal(ids[0]!, new Uint8Array([1]));
    await reader.createAndSeal(unsealed, new Uint8Array([2]));
  });

  it('drops records that do not check out, and keeps the rest', async () => {
    const file = regionFile();
    const args = ['--region', file, '--log-level', 'info'];
    const first = await startStoreProcess('16MiB', args);
    const client = await connectClient(first.socketPath);
    const ids = Array.from({ length: 6 }, () => ObjectId.random());
    for (const id of ids) await client.createAndSeal(id, crypto.randomBytes(1000));
    await first.stop('SIGKILL');

    // Another writer of the region (any client maps it read-write) scribbles on it.
    const fd = fs.openSync(file, 'r+');
    const header = Buffer.alloc(4096);
    fs.readSync(fd, header, 0, 4096, 0);
    const indexOffset = Number(header.readBigUInt64LE(136));
    const slots = header.readUInt32LE(156);
    const records: { at: number; id: string; offset: number }[] = [];
    const record = Buffer.alloc(64);
    for (let slot = 0; slot < slots; slot++) {
      fs.readSync(fd, record, 0, 64, indexOffset + slot * 64);
      if (record.readUInt32LE(20) !== 0) records.push({ at: indexOffset + slot * 64, id: record.subarray(0, 20).toString('hex'), offset: Number(record.readBigUInt64LE(24)) });
    }
    expect(records).toHaveLength(6);
    const [torn, moved, changed] = records;
    fs.writeSync(fd, Buffer.from([0xff]), 0, 1, torn!.at + 30); // a torn record: its CRC fails
    fs.writeSync(fd, Buffer.from([0x5a]), 0, 1, changed!.offset + 10); // object bytes changed: the digest fails
    // A forged record pointing far outside the region, with a valid CRC.
    fs.readSync(fd, record, 0, 64, moved!.at);
    record.writeBigUInt64LE(1n << 50n, 24);
    const { crc32 } = await import('node:zlib');
    record.writeUInt32LE(crc32(record.subarray(0, 60)), 60);
    fs.writeSync(fd, record, 0, 64, moved!.at);
    fs.closeSync(fd);

    const second = await startStoreProcess('16MiB', args);
    expect(recoveryLine(second.stderr())).toMatchObject({ objects: 3, dropped: { damaged: 1, outOfBounds: 1, digestMismatch: 1 } });
    const reader = await connectClient(second.socketPath);
    const survivors = new Set((await reader.list()).map((o) => o.id.hex));
    expect(survivors).toEqual(new Set(records.slice(3).map((r) => r.id)));
  });

  it('refuses a restart with a -m larger than the region, naming the fix, and leaves the objects alone', async () => {
    const file = regionFile();
    const first = await startStoreProcess('32MiB', ['--region', file]);
    const client = await connectClient(first.socketPath);
    const id = ObjectId.random();
    await client.createAndSeal(id, new Uint8Array([9, 9, 9]));
    await first.stop('SIGKILL');
    await expect(startStoreProcess('64MiB', ['--region', file])).rejects.toThrow(/start with the -m it was made with/);
    const again = await startStoreProcess('32MiB', ['--region', file]);
    const reader = await connectClient(again.socketPath);
    expect(await reader.contains(id)).toBe(true);
  });
});
