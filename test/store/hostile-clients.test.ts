/**
 * Clients that misbehave on purpose (issue 14, items 1–3): whatever one client sends, the store
 * survives, keeps no descriptor it was not meant to keep, stays within bounded memory, keeps
 * serving everyone else, and its socket is never reachable by another user.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { native } from '../../src/native/index.js';
import { encodeRequest } from '../../src/protocol/client-codec.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { onCleanup, startStoreProcess, tempDir } from '../helpers/processes.js';
import { openFds, rawConnection, rssAnon, send, storeStillServes } from '../helpers/store-probes.js';

describe('descriptors a client passes', () => {
  const kinds: [string, () => number][] = [
    ['/dev/null', () => fs.openSync('/dev/null', 'r')],
    ['a FIFO', () => {
      const fifo = path.join(tempDir(), 'fifo');
      spawnSync('mkfifo', [fifo]);
      return fs.openSync(fifo, 'r+');
    }],
    ['a regular file', () => fs.openSync(path.join(tempDir(), 'f'), 'w')],
    ['a directory', () => fs.openSync('/tmp', 'r')],
  ];

  it.each(kinds)('a SubscribeRequest followed by %s neither kills the store nor leaks the descriptor', async (_name, open) => {
    const store = await startStoreProcess();
    const pid = store.child.pid!;
    const before = openFds(pid);
    for (let i = 0; i < 20; i++) {
      const channel = rawConnection(store);
      send(channel, { kind: 'subscribe' });
      const fd = open();
      channel.sendFd(fd);
      fs.closeSync(fd);
      await sleep(10);
      channel.close();
    }
    await sleep(200);
    expect(store.child.exitCode, store.stderr()).toBeNull();
    await storeStillServes(store);
    // The fresh client above holds its own connection (and maybe a segment fd of ours): allow 2.
    expect(openFds(pid)).toBeLessThanOrEqual(before + 2);
  });

  it('descriptors nobody asked for, in any number, are closed, not kept', async () => {
    const store = await startStoreProcess();
    const pid = store.child.pid!;
    const before = openFds(pid);
    const channel = rawConnection(store);
    for (let i = 0; i < 200; i++) {
      const fd = fs.openSync('/dev/null', 'r');
      channel.sendFd(fd);
      fs.closeSync(fd);
    }
    await sleep(300);
    expect(store.child.exitCode, store.stderr()).toBeNull();
    channel.close();
    await sleep(100);
    await storeStillServes(store);
    expect(openFds(pid)).toBeLessThanOrEqual(before + 2);
  });
});

describe('requests faster than replies are read', () => {
  it('a client pipelining List requests without reading stalls itself, not the store', async () => {
    const store = await startStoreProcess('256MiB');
    const pid = store.child.pid!;
    // 2,000 objects make every List reply about 200 kB: the amplification the campaign used.
    const client = await connectClient(store.socketPath);
    for (let i = 0; i < 2000; i++) await client.createAndSeal(ObjectId.random(), new Uint8Array(64));
    const baseline = rssAnon(pid);

    const flood = rawConnection(store); // never started: it never reads a reply
    const { type, body } = encodeRequest({ kind: 'list' });
    const frames = Math.ceil((560 * 1024) / (24 + body.length));
    for (let i = 0; i < frames; i++) flood.sendFrame(Number(type), body);
    await sleep(3000);

    expect(store.child.exitCode, store.stderr()).toBeNull();
    const growth = rssAnon(pid) - baseline;
    // Unbounded, this grew by 1.4–1.9 GB; bounded, it is the output limit plus buffers.
    expect(growth, `store grew by ${(growth / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(96 * 2 ** 20);
    // Others are still served while the flood is stalled.
    await storeStillServes(store);
  });

  it('a Contains flood costs bounded memory and the flooding client still gets every reply in order', async () => {
    const store = await startStoreProcess();
    const pid = store.child.pid!;
    const baseline = rssAnon(pid);
    const flood = rawConnection(store);
    const { type, body } = encodeRequest({ kind: 'contains', objectId: ObjectId.random() });
    const count = 50_000;
    for (let i = 0; i < count; i++) flood.sendFrame(Number(type), body);
    await sleep(1500);
    expect(rssAnon(pid) - baseline).toBeLessThan(96 * 2 ** 20);
    await storeStillServes(store);
    // Reading now, the flooding client receives one reply per request: nothing was dropped.
    let replies = 0;
    await new Promise<void>((resolve, reject) => {
      flood.start({
        onFrame: () => {
          if (++replies === count) resolve();
        },
        onFd: (fd) => native.closeFd(fd),
        onClose: (reason) => reject(new Error(`closed after ${replies} replies: ${reason}`)),
      });
    });
    expect(replies).toBe(count);
  });

  it('a subscriber that never reads is dropped once far behind; the store and other clients carry on', async () => {
    const store = await startStoreProcess('256MiB');
    const channel = rawConnection(store);
    const [mine, theirs] = native.socketPair();
    send(channel, { kind: 'subscribe' });
    channel.sendFd(theirs);
    native.closeFd(theirs);
    await sleep(100);
    const client = await connectClient(store.socketPath);
    // Each batch seal is one notification frame of about 50 kB: 800 of them would queue ~40 MB
    // for a reader that never reads, more than the 16 MiB a subscriber may fall behind.
    const batches = 800;
    const perBatch = 500;
    for (let i = 0; i < batches; i++) {
      await client.createAndSealBatch(Array.from({ length: perBatch }, () => ({ id: ObjectId.random(), data: new Uint8Array(0) })));
      if (i % 20 === 19) await client.delete((await client.list()).map((o) => o.id));
    }
    expect(store.child.exitCode, store.stderr()).toBeNull();
    expect(store.stderr()).toMatch(/subscriber dropped/);
    await storeStillServes(store);
    // The dropped subscriber reads what reached its socket buffer, then end of stream.
    const received = await new Promise<number>((resolve, reject) => {
      const sock = new net.Socket({ fd: mine, readable: true, writable: false });
      let bytes = 0;
      sock.on('data', (chunk: Buffer) => (bytes += chunk.length));
      sock.on('end', () => resolve(bytes));
      sock.on('error', reject);
      onCleanup(() => {
        sock.destroy();
      });
    });
    const produced = batches * perBatch * 60;
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(produced);
  });
});

describe('the listening socket', () => {
  it('is owner-only from the first instant, even under umask 000', async () => {
    // Start stores under umask 000 while another uid tries to connect as fast as it can.
    const dir = tempDir();
    fs.chmodSync(dir, 0o777);
    const socketPath = path.join(dir, 'plasma.sock');
    const prober = path.join(dir, 'probe.py');
    fs.writeFileSync(
      prober,
      [
        'import socket, sys, time, os',
        'os.setgid(65534); os.setuid(65534)',
        'end = time.time() + float(sys.argv[2]); hits = 0',
        'while time.time() < end:',
        '    s = socket.socket(socket.AF_UNIX)',
        '    try:',
        '        s.connect(sys.argv[1]); hits += 1',
        '    except OSError:',
        '        pass',
        '    s.close()',
        'print(hits)',
      ].join('\n'),
    );
    fs.chmodSync(prober, 0o644);
    const { spawn } = await import('node:child_process');
    const probe = spawn('python3', [prober, socketPath, '8'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    probe.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const probeDone = new Promise<void>((resolve) => probe.on('close', () => resolve()));
    onCleanup(() => {
      probe.kill('SIGKILL');
    });
    const oldUmask = process.umask(0);
    try {
      for (let i = 0; i < 10; i++) {
        const listener = native.listen(socketPath, 'plasma', (channel) => channel.close());
        expect(fs.statSync(socketPath).mode & 0o777).toBe(0o600);
        await sleep(50);
        listener.close();
      }
    } finally {
      process.umask(oldUmask);
    }
    await probeDone;
    expect(Number(out.trim()), 'connections made by uid 65534').toBe(0);
    expect(spawnSync('id', ['-u']).stdout.toString().trim()).toBe('0'); // the test needs root to switch uid
  });
});
