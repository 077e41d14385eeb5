/**
 * Regions: creation (fully allocated, header, mode), attach (read-write, read-only, uuid check),
 * the errors a person starting a store meets, and windows over regions larger than 4 GiB.
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { native, type NativeRegion } from '../../src/native/index.js';
import { forkHelper, nextMessage, onCleanup, shmPath, sleep, tempDir } from './helpers/cleanup.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function create(file: string, capacity = 4 * MiB, extra: Partial<Parameters<typeof native.createRegion>[0]> = {}): NativeRegion {
  const region = native.createRegion({ path: file, capacity, nodeName: 'node-a', ...extra });
  onCleanup(() => region.close());
  return region;
}

function attach(file: string, options?: Parameters<typeof native.attachRegion>[1]): NativeRegion {
  const region = native.attachRegion(file, options);
  onCleanup(() => region.close());
  return region;
}

function bytes(region: NativeRegion, offset: number, length: number): Uint8Array {
  const w = region.mapping.window(offset, length);
  return new Uint8Array(w.buffer, w.byteOffset, length);
}

/** Patch bytes of a region file on disk, as corruption or another program would. */
function patchFile(file: string, offset: number, data: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, data, 0, data.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

async function inChild(request: object, user?: number): Promise<{ ok: boolean; code?: string; message?: string }> {
  // The child switches to `user` itself, after loading its code: the checkout may sit in a 0700
  // directory (/root, mktemp -d) that the other user cannot read.
  const child = forkHelper('region-op.ts', [JSON.stringify({ ...request, user })]);
  return nextMessage(child);
}

describe('createRegion', () => {
  it('allocates the whole file up front, writes the header page, and uses mode 0600', () => {
    const file = shmPath('create');
    const region = create(file, 3 * MiB + 5);
    expect(region.uuid).toMatch(UUID);
    expect(region).toMatchObject({
      path: file,
      nodeName: 'node-a',
      layoutVersion: 1,
      dataOffset: 4096,
      capacity: 3 * MiB + 4096, // 4096 + capacity rounded up to the page
      mapLength: 4096 + 3 * MiB + 4096,
      readOnly: false,
      kind: 'file',
      closed: false,
    });
    expect(Math.abs(region.createdAt - Date.now())).toBeLessThan(60_000);
    expect(region.fd).toBeGreaterThan(2);
    const st = fs.statSync(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(region.mapLength);
    expect(st.blocks * 512).toBeGreaterThanOrEqual(region.mapLength); // not sparse
    // (Not checked by free space: other tests create and remove regions in /dev/shm meanwhile.)
    // Header bytes as another reader sees them.
    const header = fs.readFileSync(file).subarray(0, 4096);
    expect(header.subarray(0, 8).toString('latin1')).toBe('PLSMPOOL');
    expect(header.readUInt32LE(8)).toBe(1);
    expect(header.readUInt32LE(12)).toBe(4096);
    expect(header.subarray(16, 32).toString('hex')).toBe(region.uuid.replaceAll('-', ''));
    expect(Number(header.readBigUInt64LE(32))).toBe(region.capacity);
    expect(Number(header.readBigUInt64LE(40))).toBe(4096);
    expect(header.subarray(72, 72 + 6).toString()).toBe('node-a');
    expect(Number(header.readBigUInt64LE(144))).toBe(0); // object index: empty in layout v1
    region.close();
    expect(region.closed).toBe(true);
    expect(region.fd).toBe(-1);
    region.close(); // idempotent
  });

  it('honours mode, prefault: false and overwrite', () => {
    const file = shmPath('mode');
    const first = create(file, MiB, { mode: 0o640, prefault: false });
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    expect(() => create(file, MiB)).toThrow(expect.objectContaining({ code: 'EEXIST', message: expect.stringMatching(/already exists.*overwrite: true/) }));
    // overwrite never takes a region from its live owner (the owner's lock), only a released one.
    expect(() => create(file, MiB, { overwrite: true })).toThrow(expect.objectContaining({ code: 'EBUSY', message: expect.stringMatching(/in use by a running store/) }));
    expect(native.regionInUse(file)).toBe(true);
    first.close();
    expect(native.regionInUse(file)).toBe(false);
    const second = create(file, 2 * MiB, { overwrite: true });
    expect(second.uuid).not.toBe(first.uuid);
    expect(fs.statSync(file).size).toBe(second.mapLength);
  });

  it('names the problem and the fix', () => {
    expect(() => create(shmPath('zero'), 0)).toThrow(expect.objectContaining({ code: 'EINVAL', message: expect.stringMatching(/capacity is 0 bytes.*positive size/) }));
    expect(() => create('/nonexistent-dir-pp/region', MiB)).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/directory \/nonexistent-dir-pp does not exist: create it/) }),
    );
    expect(() => create(tempDir(), MiB)).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    expect(() => create(shmPath('long-name'), MiB, { nodeName: 'x'.repeat(64) })).toThrow(/at most 63/);
  });

  it('refuses a region larger than the free space of /dev/shm, saying how much is free and asked', () => {
    const file = shmPath('huge');
    const free = native.freeSpace('/dev/shm');
    const asked = free + GiB;
    let error: (Error & { code?: string }) | undefined;
    try {
      create(file, asked);
    } catch (e) {
      error = e as Error & { code?: string };
    }
    expect(error?.code).toBe('ENOSPC');
    expect(error?.message).toMatch(/^not enough space in \/dev\/shm for region .*: asked for .*GiB \(\d+ bytes\), only .*GiB \(\d+ bytes\) is free; free space/);
    const [askedBytes, freeBytes] = [...error!.message.matchAll(/\((\d+) bytes\)/g)].map((m) => Number(m[1]));
    expect(askedBytes).toBeGreaterThanOrEqual(asked);
    expect(Math.abs(freeBytes! - free)).toBeLessThan(256 * MiB); // others may use /dev/shm meanwhile
    expect(fs.existsSync(file)).toBe(false); // nothing left behind
  });

  it('reports permission denied with the path and uid', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755); // root-owned, not writable by nobody
    const result = await inChild({ op: 'create', path: path.join(dir, 'region'), capacity: MiB }, 65534);
    expect(result).toMatchObject({ ok: false, code: 'EACCES' });
    expect(result.message).toMatch(/permission denied creating .*region \(uid 65534\)/);
  });
});

describe('layout version 2: a region with a crash-recovery index', () => {
  it('places the index between the header page and the first object, and describes it in the header', () => {
    const file = shmPath('indexed');
    const region = create(file, MiB, { indexSlots: 1000 });
    expect(region).toMatchObject({ layoutVersion: 2, indexOffset: 4096, indexSlots: 1000, dataOffset: 4096 + 64_000 + (4096 - (64_000 % 4096)) });
    expect(region.mapLength - region.dataOffset).toBe(region.capacity);
    expect(region.capacity).toBeGreaterThanOrEqual(MiB);
    const header = fs.readFileSync(file).subarray(0, 4096);
    expect(header.readUInt32LE(8)).toBe(2);
    expect(Number(header.readBigUInt64LE(136))).toBe(4096); // index offset
    expect(header.readUInt32LE(152)).toBe(1); // index format: 64-byte slots
    expect(header.readUInt32LE(156)).toBe(1000);
    // A peer attaches it as any region; the owner's lock makes a second owner wait its turn.
    expect(attach(file, { readOnly: true }).dataOffset).toBe(region.dataOffset);
    expect(() => attach(file, { owner: true })).toThrow(expect.objectContaining({ code: 'EBUSY' }));
    region.close();
    const again = attach(file, { owner: true });
    expect(again).toMatchObject({ uuid: region.uuid, indexSlots: 1000, readOnly: false });
  });
});

describe('attachRegion', () => {
  it('attaches read-write and read-only, and both see the creator’s writes at once', () => {
    const file = shmPath('attach');
    const owner = create(file, MiB);
    const writer = attach(file);
    const reader = attach(file, { readOnly: true, expectUuid: owner.uuid.toUpperCase() });
    for (const r of [writer, reader]) {
      expect(r).toMatchObject({ uuid: owner.uuid, nodeName: 'node-a', capacity: owner.capacity, mapLength: owner.mapLength, dataOffset: 4096 });
      expect(r.createdAt).toBe(owner.createdAt);
    }
    expect(reader.readOnly).toBe(true);
    expect(reader.mapping.readOnly).toBe(true);
    bytes(owner, 4096, 4).set([1, 2, 3, 4]);
    expect([...bytes(reader, 4096, 4)]).toEqual([1, 2, 3, 4]);
    bytes(writer, 8192, 2).set([9, 8]);
    expect([...bytes(owner, 8192, 2)]).toEqual([9, 8]);
    expect(reader.mapping.address()).not.toBe(owner.mapping.address());
  });

  it('refuses a uuid mismatch, bad magic, an unsupported version, a corrupt or truncated header', () => {
    const file = shmPath('bad');
    const owner = create(file, MiB);
    expect(() => attach(file, { expectUuid: '00000000-0000-4000-8000-000000000000' })).toThrow(
      expect.objectContaining({
        code: 'ERR_UUID_MISMATCH',
        message: `${file} holds region ${owner.uuid} (node "node-a") but 00000000-0000-4000-8000-000000000000 was expected: the region was recreated since; ask its owner for the current one`,
      }),
    );
    expect(() => attach(file, { expectUuid: 'not-a-uuid' })).toThrow(TypeError);

    patchFile(file, 8, new Uint8Array([3, 0, 0, 0]));
    expect(() => attach(file)).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_VERSION', message: expect.stringMatching(/layout version 3 but this build reads version 2/) }));
    patchFile(file, 8, new Uint8Array([1, 0, 0, 0]));
    patchFile(file, 80, new Uint8Array([0x41])); // inside the node name
    expect(() => attach(file)).toThrow(expect.objectContaining({ code: 'ERR_BAD_HEADER', message: expect.stringMatching(/checksum mismatch/) }));
    patchFile(file, 80, new Uint8Array([0]));
    expect(attach(file).uuid).toBe(owner.uuid); // restored

    patchFile(file, 0, Buffer.from('NOTAPOOL'));
    expect(() => attach(file)).toThrow(
      expect.objectContaining({ code: 'ERR_BAD_MAGIC', message: expect.stringMatching(/is not a plasmapool region: bad magic \(first bytes 4e 4f 54 41 50 4f 4f 4c/) }),
    );
    patchFile(file, 0, Buffer.from('PLSMPOOL'));
    fs.truncateSync(file, owner.mapLength - 4096);
    expect(() => attach(file)).toThrow(expect.objectContaining({ code: 'ERR_BAD_HEADER', message: expect.stringMatching(/is truncated/) }));

    const tiny = shmPath('tiny');
    fs.writeFileSync(tiny, 'hello');
    expect(() => attach(tiny)).toThrow(expect.objectContaining({ code: 'ERR_BAD_MAGIC', message: expect.stringMatching(/smaller than a region header/) }));
  });

  it('names a missing region, a missing directory, and permission denied', async () => {
    expect(() => attach('/dev/shm/plasmapool-test-missing-region')).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/does not exist: start the store that owns it first/) }),
    );
    expect(() => attach('/no-such-dir-pp/region')).toThrow(expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/directory \/no-such-dir-pp does not exist/) }));
    const file = shmPath('private');
    create(file, MiB); // mode 0600, owned by root
    const denied = await inChild({ op: 'attach', path: file, readOnly: true }, 65534);
    expect(denied).toMatchObject({ ok: false, code: 'EACCES' });
    expect(denied.message).toMatch(/permission denied opening for reading .* \(uid 65534\): run as the region's owner/);
    // Another process of the same user attaches fine.
    expect(await inChild({ op: 'attach', path: file })).toEqual({ ok: true });
  });
});

describe('mappings and windows', () => {
  it('two mappings of one file see each other’s writes; windows survive close()', () => {
    const file = shmPath('two');
    const region = create(file, MiB);
    const other = native.mapFd(region.fd, region.mapLength, false);
    onCleanup(() => other.close());
    expect(other.address()).not.toBe(region.mapping.address());
    const a = region.mapping.window(4096 + 64, 16);
    const b = other.window(4096 + 64, 16);
    new Uint8Array(a.buffer, a.byteOffset, 16).fill(7);
    expect([...new Uint8Array(b.buffer, b.byteOffset, 16)]).toEqual(new Array(16).fill(7));
    new Uint8Array(b.buffer, b.byteOffset + 15, 1)[0] = 42;
    expect(new Uint8Array(a.buffer, a.byteOffset + 15, 1)[0]).toBe(42);
    // The window is a view of the mapping itself (zero copy) and is cached.
    expect(native.addressOf(a.buffer)).toBe(region.mapping.address());
    expect(region.mapping.window(100, 1).buffer).toBe(a.buffer);
    const slice = other.slice(4096 + 64, 16);
    expect(slice.byteLength).toBe(16);
    expect(native.addressOf(slice)).toBe(other.address() + BigInt(4096 + 64));
    native.detachArrayBuffer(slice);
    expect(slice.byteLength).toBe(0);
    // Closing drops the owner reference only: reachable windows still read the memory.
    other.close();
    expect(other.closed).toBe(true);
    expect(() => other.window(0, 1)).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    expect(new Uint8Array(b.buffer, b.byteOffset + 15, 1)[0]).toBe(42);
  });

  it('recreates collected windows, and unmaps only after close() and the last window is collected', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const collect = async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await sleep(20); // Node runs ArrayBuffer finalizers from the loop
      }
    };
    const file = shmPath('lifetime');
    const region = create(file, MiB);
    const isMapped = () => fs.readFileSync('/proc/self/maps', 'utf8').includes(file);
    const weak = new WeakRef(region.mapping.window(0, 1).buffer);
    await collect();
    expect(weak.deref()).toBeUndefined(); // the cache holds windows weakly
    let w: ArrayBuffer | undefined = region.mapping.window(4096, 4).buffer; // recreated
    new Uint8Array(w, 4096, 4).set([5, 6, 7, 8]);
    region.close();
    await collect();
    expect(isMapped()).toBe(true); // a window is still reachable
    expect([...new Uint8Array(w, 4096, 4)]).toEqual([5, 6, 7, 8]);
    w = undefined;
    await collect();
    expect(isMapped()).toBe(false);

    // A slice holds the mapping until it is detached, without waiting for GC.
    const again = attach(file);
    const slice = again.mapping.slice(4096, 4);
    expect([...new Uint8Array(slice)]).toEqual([5, 6, 7, 8]);
    again.close();
    await sleep(20);
    expect(isMapped()).toBe(true);
    native.detachArrayBuffer(slice);
    await sleep(20);
    expect(isMapped()).toBe(false);
  });

  it('checks ranges and refuses mappings that would fault or cannot exist', () => {
    const region = create(shmPath('ranges'), MiB);
    expect(() => region.mapping.window(region.mapLength - 10, 11)).toThrow(RangeError);
    expect(region.mapping.window(region.mapLength, 0).byteOffset).toBe(region.mapLength);
    expect(() => native.mapFd(region.fd, region.mapLength + 1, true)).toThrow(expect.objectContaining({ code: 'ERR_MAP_PAST_EOF' }));
    expect(() => native.mapFd(region.fd, 0, true)).toThrow(/length is 0/);
    const zero = fs.openSync('/dev/zero', 'r');
    onCleanup(() => fs.closeSync(zero));
    expect(() => native.mapFd(zero, 2 ** 52, true)).toThrow(
      expect.objectContaining({ code: 'ENOMEM', message: expect.stringMatching(/is too large for this machine/) }),
    );
    const readOnlyFd = fs.openSync(region.path, 'r');
    onCleanup(() => fs.closeSync(readOnlyFd));
    expect(() => native.mapFd(readOnlyFd, MiB, false)).toThrow(expect.objectContaining({ code: 'EACCES', message: expect.stringMatching(/map it read-only/) }));
  });

  it('exposes a 5 GiB region as page-aligned windows of at most 4 GiB', () => {
    // A regular file on /tmp: posix_fallocate on ext4 is instant and costs no RAM, unlike tmpfs.
    const file = path.join(tempDir(), 'big-region');
    const region = create(file, 5 * GiB, { prefault: false });
    expect(region.mapLength).toBe(5 * GiB + 4096);
    const base = region.mapping.address();
    const windowLimit = 4 * GiB - 64 * KiB;
    const probes = [4096, 2 * GiB - 64, 2 * GiB + 4096, 4 * GiB - 128, 4 * GiB + 123 * 64, region.mapLength - 64];
    for (const [i, offset] of probes.entries()) {
      const w = region.mapping.window(offset, 64);
      expect(w.buffer.byteLength).toBeLessThanOrEqual(windowLimit);
      expect(native.addressOf(w.buffer) % 4096n).toBe(0n);
      expect(native.addressOf(w.buffer) + BigInt(w.byteOffset)).toBe(base + BigInt(offset));
      expect(w.byteOffset % 64).toBe(0);
      new Uint8Array(w.buffer, w.byteOffset, 64).fill(i + 1);
    }
    // Window 0 spans up to 4 GiB - 64 KiB, so it also sees what was written through window 1.
    const w0 = region.mapping.window(0, 1);
    expect(new Uint8Array(w0.buffer, 2 * GiB + 4096, 1)[0]).toBe(3);
    // A 3 GiB range straddling the stride gets a window of its own.
    const wide = region.mapping.window(GiB + 4096, 3 * GiB);
    expect(wide.buffer.byteLength).toBeGreaterThanOrEqual(3 * GiB);
    expect(new Uint8Array(wide.buffer, wide.byteOffset + (2 * GiB - 64) - (GiB + 4096), 1)[0]).toBe(2);
    expect(() => region.mapping.window(0, windowLimit + 1)).toThrow(/exceeds the largest ArrayBuffer/);
    // An independent reader of the file sees the bytes past 4 GiB.
    const fd = fs.openSync(file, 'r');
    onCleanup(() => fs.closeSync(fd));
    const check = Buffer.alloc(64);
    fs.readSync(fd, check, 0, 64, 4 * GiB + 123 * 64);
    expect([...check]).toEqual(new Array(64).fill(5));
  });
});
