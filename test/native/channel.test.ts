/**
 * Channels over real Unix sockets: ordering of frames and descriptors under back-pressure in both
 * directions across processes, descriptors that map the sender's memory, peer disconnects at every
 * point of a frame, malformed and oversized frames, re-entrant handlers, and descriptor hygiene.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { native, type ChannelHandlers, type FramingMode, type NativeChannel } from '../../src/native/index.js';
import { forkHelper, nextMessage, onCleanup, openFdCount, shmPath, sleep, tempDir, until } from './helpers/cleanup.js';
import { FD_EVERY, StreamVerifier, openTaggedFiles, sendStream } from './helpers/stream.js';

const MiB = 1024 * 1024;

/** Handlers that record everything; `closed` resolves with the close reason. */
function recorder() {
  const frames: { type: number; body: Buffer }[] = [];
  const fds: number[] = [];
  let resolveClosed!: (reason: string | null) => void;
  const closed = new Promise<string | null>((r) => (resolveClosed = r));
  let closeCount = 0;
  const handlers: ChannelHandlers = {
    onFrame: (type, body) => frames.push({ type, body }),
    onFd: (fd) => fds.push(fd),
    onClose: (reason) => {
      closeCount++;
      resolveClosed(reason);
    },
  };
  return { frames, fds, closed, handlers, closeCount: () => closeCount };
}

/** Both ends of a socketpair as channels, closed after the test. */
function channelPair(mode: FramingMode = 'plasma'): [NativeChannel, NativeChannel] {
  const [a, b] = native.socketPair();
  const pair: [NativeChannel, NativeChannel] = [native.channelFromFd(a, mode), native.channelFromFd(b, mode)];
  onCleanup(() => pair.forEach((c) => c.close()));
  return pair;
}

function header(version: number | bigint, type: number | bigint, length: number | bigint): Buffer {
  const h = Buffer.alloc(24);
  h.writeBigInt64LE(BigInt(version), 0);
  h.writeBigInt64LE(BigInt(type), 8);
  h.writeBigInt64LE(BigInt(length), 16);
  return h;
}

function frame(type: number, body: Buffer): Buffer {
  return Buffer.concat([header(0, type, body.length), body]);
}

/** A listener whose channels are started with a recorder each; returns the socket path. */
function listenRecording(mode: FramingMode = 'plasma', setup: (ch: NativeChannel) => void = () => {}) {
  const socketPath = path.join(tempDir(), 'ch.sock');
  const accepted: { channel: NativeChannel; rec: ReturnType<typeof recorder> }[] = [];
  const listener = native.listen(socketPath, mode, (channel) => {
    const rec = recorder();
    setup(channel);
    channel.start(rec.handlers);
    accepted.push({ channel, rec });
  });
  onCleanup(() => {
    accepted.forEach((a) => a.channel.close());
    listener.close();
  });
  return { socketPath, accepted, listener };
}

/** Connect a raw net.Socket (no descriptors) to path. */
async function rawClient(socketPath: string): Promise<net.Socket> {
  const socket = net.connect(socketPath);
  onCleanup(() => socket.destroy());
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

const hasPython = spawnSync('python3', ['-c', 'import socket, array'], { stdio: 'ignore' }).status === 0;

/** Let python write raw bytes and SCM_RIGHTS messages on socket fd (inherited as its fd 3). */
function pythonSend(fd: number, script: string): void {
  const program = `import socket, array, os\ns = socket.socket(fileno=3)\n${script}\ns.detach()\n`;
  const result = spawnSync('python3', ['-c', program], { stdio: ['ignore', 'inherit', 'inherit', fd] });
  if (result.status !== 0) throw new Error(`python3 exited with ${result.status}`);
}

describe('channel: ordering under back-pressure', () => {
  it('keeps 10,000 frames and 1,000 descriptors in order in both directions while each reader stalls', async () => {
    const FRAMES = 10_000;
    const STALL_MS = 600;
    const fdsBefore = openFdCount();
    const dir = tempDir();
    const socketPath = path.join(dir, 'stream.sock');
    const files = openTaggedFiles(dir, 'parent', FRAMES / FD_EVERY);
    const verifier = new StreamVerifier('child', FRAMES);
    let server: NativeChannel | undefined;
    let maxPending = 0;
    let serverClose: string | null | undefined;
    const listener = native.listen(socketPath, 'plasma', (channel) => {
      server = channel;
      channel.start({ onFrame: verifier.onFrame, onFd: verifier.onFd, onClose: (reason) => (serverClose = reason) });
      channel.pauseReading();
      sendStream(channel, files, FRAMES);
      maxPending = channel.pendingWriteBytes;
      for (const fd of files) fs.closeSync(fd); // the queue holds its own duplicates
      setTimeout(() => channel.resumeReading(), STALL_MS);
    });
    onCleanup(() => listener.close());
    onCleanup(() => server?.close());

    const child = forkHelper('channel-peer.ts', [JSON.stringify({ role: 'stream', socketPath, frames: FRAMES, dir, stallMs: STALL_MS })]);
    const report = await nextMessage<{ error: string | null; framesSeen: number; fdsSeen: number; maxPending: number }>(child, (m) => m.done, 60_000);
    await until(() => verifier.done && server!.pendingWriteBytes === 0, 30_000, 'the parent to receive the stream');

    expect(report.error).toBeNull();
    expect(report).toMatchObject({ framesSeen: FRAMES, fdsSeen: FRAMES / FD_EVERY });
    expect(verifier.error).toBeNull();
    expect([verifier.framesSeen, verifier.fdsSeen]).toEqual([FRAMES, FRAMES / FD_EVERY]);
    // Both writers really were blocked by the stalled reader (megabytes queued, not in the kernel).
    expect(maxPending).toBeGreaterThan(2 * MiB);
    expect(report.maxPending).toBeGreaterThan(2 * MiB);

    const childClosed = nextMessage<{ reason: string | null }>(child, (m) => m.closed);
    server!.close();
    expect((await childClosed).reason).toBeNull();
    await until(() => serverClose !== undefined, 5000, 'onClose');
    expect(serverClose).toBeNull();
    listener.close();
    await new Promise((r) => child.once('exit', r));
    await sleep(20);
    expect(openFdCount()).toBe(fdsBefore);
  }, 90_000);

  it('delivers frames and descriptors in stream order within one process, with writes resumed mid-frame', async () => {
    const fdsBefore = openFdCount();
    const dir = tempDir();
    const [tx, rx] = channelPair();
    const files = openTaggedFiles(dir, 'local', 300);
    const verifier = new StreamVerifier('local', 3000);
    const big = Buffer.alloc(300_000, 0xab);
    let bigSeen = false;
    rx.start({
      onFrame: (type, body) => {
        if (type === 999 && !bigSeen) bigSeen = body.equals(big);
        else verifier.onFrame(type, body);
      },
      onFd: verifier.onFd,
      onClose: () => {},
    });
    rx.pauseReading();
    tx.start(recorder().handlers);
    // A big frame first, so that writes stop in the middle of a frame.
    tx.sendFrame(999, big);
    sendStream(tx, files, 3000);
    files.forEach((fd) => fs.closeSync(fd));
    expect(tx.pendingWriteBytes).toBeGreaterThan(MiB);
    await sleep(100);
    rx.resumeReading();
    await until(() => verifier.done, 20_000, 'the stream');
    expect(bigSeen).toBe(true);
    expect(verifier.error).toBeNull();
    expect(verifier.fdsSeen).toBe(300);
    tx.close();
    rx.close();
    await sleep(20);
    expect(openFdCount()).toBe(fdsBefore);
  });
});

describe('channel: descriptors', () => {
  it('passes a region descriptor that maps the same memory in another process', async () => {
    const region = native.createRegion({ path: shmPath('shared'), capacity: 4 * MiB, nodeName: 'parent' });
    onCleanup(() => region.close());
    const offset = region.dataOffset + 64 * 100;
    const length = 64 * 1024;
    const w = region.mapping.window(offset, length);
    const view = new Uint8Array(w.buffer, w.byteOffset, length);
    for (let i = 0; i < length; i++) view[i] = (i * 31 + 7) & 0xff;

    const { socketPath, accepted } = listenRecording();
    const child = forkHelper('channel-peer.ts', [JSON.stringify({ role: 'map', socketPath })]);
    await until(() => accepted.length === 1, 20_000, 'the child to connect');
    const { channel, rec } = accepted[0]!;
    const replyOffset = region.dataOffset + 2 * MiB;
    channel.sendFd(region.fd);
    channel.sendFrame(1, Buffer.from(JSON.stringify({ mapLength: region.mapLength, offset, length, replyOffset })));
    expect(await rec.closed).toBeNull(); // the child ends after replying
    expect(rec.frames).toHaveLength(1);
    const reply = JSON.parse(rec.frames[0]!.body.toString());
    expect(reply.mismatch).toBe(-1);
    expect(reply.header).toBe('PLSMPOOL');
    const r = region.mapping.window(replyOffset, 4);
    expect([...new Uint8Array(r.buffer, r.byteOffset, 4)]).toEqual([0xde, 0xad, 0xbe, 0xef]);
    await new Promise((resolve) => child.once('exit', resolve));
  });

  it('maps a received descriptor onto the same pages within one process', async () => {
    const region = native.createRegion({ path: shmPath('local'), capacity: MiB, nodeName: 'a' });
    onCleanup(() => region.close());
    const [tx, rx] = channelPair();
    const rec = recorder();
    rx.start(rec.handlers);
    tx.start(recorder().handlers);
    expect(tx.sendFd(region.fd)).toBe(true);
    await until(() => rec.fds.length === 1);
    const received = rec.fds[0]!;
    expect(received).not.toBe(region.fd);
    const mapping = native.mapFd(received, region.mapLength, false);
    onCleanup(() => mapping.close());
    native.closeFd(received);
    const mine = region.mapping.window(region.dataOffset, 8);
    const theirs = mapping.window(region.dataOffset, 8);
    new Uint8Array(mine.buffer, mine.byteOffset, 8).set([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...new Uint8Array(theirs.buffer, theirs.byteOffset, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(mapping.address()).not.toBe(region.mapping.address());
  });

  it('throws EBADF for a closed descriptor and drops sends after close', async () => {
    const [tx] = channelPair();
    expect(() => tx.sendFd(987_654)).toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/pass a descriptor that is open/) }));
    tx.close();
    expect(tx.closed).toBe(true);
    expect(tx.fd).toBe(-1);
    expect(tx.sendFrame(1, Buffer.alloc(1))).toBe(false);
    expect(tx.sendFd(0)).toBe(false);
  });

  it.skipIf(!hasPython)('closes the channel when a message carries two descriptors, or one arrives inside a frame', async () => {
    const fdsBefore = openFdCount();
    for (const [script, reason] of [
      ["s.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [0, 1]))])", /peer sent 2 descriptors in one message/],
      [
        "s.sendall(bytes(10))\ns.sendmsg([b'x'], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array('i', [0]))])\ns.sendall(bytes(14))",
        /descriptor arrived inside a frame header \(after 10 of 24 bytes\)/,
      ],
    ] as const) {
      const [a, b] = native.socketPair();
      const rx = native.channelFromFd(b, 'plasma');
      const rec = recorder();
      rx.start(rec.handlers);
      pythonSend(a, script);
      native.closeFd(a);
      expect(await rec.closed).toMatch(reason);
      expect(rec.fds).toEqual([]);
    }
    await sleep(20);
    expect(openFdCount()).toBe(fdsBefore); // extra and undelivered descriptors were closed
  });
});

describe('channel: peer disconnects', () => {
  const body = Buffer.alloc(40, 0x5a);
  const whole = frame(7, body);

  it('reports a disconnect at every byte of a frame (store side, raw client)', async () => {
    const { socketPath, accepted } = listenRecording();
    for (let cut = 0; cut <= whole.length; cut++) {
      const socket = await rawClient(socketPath);
      socket.end(Buffer.concat([whole, whole.subarray(0, cut)]));
      await until(() => accepted.length === cut + 1, 5000, 'the connection');
      const { rec } = accepted[cut]!;
      const reason = await rec.closed;
      expect(rec.frames.map((f) => f.type)).toEqual(cut === whole.length ? [7, 7] : [7]);
      if (cut === 0 || cut === whole.length) expect(reason).toBeNull();
      else if (cut < 24) expect(reason).toBe(`peer closed the connection in the middle of a frame header (got ${cut} of 24 bytes)`);
      else expect(reason).toBe(`peer closed the connection in the middle of a frame body (got ${cut - 24} of 40 bytes)`);
      expect(rec.closeCount()).toBe(1);
    }
  });

  it('reports a disconnect at every byte of a frame (client side, length64 framing)', async () => {
    const socketPath = path.join(tempDir(), 'srv.sock');
    let cut = 0;
    const notification = Buffer.concat([Buffer.from([40, 0, 0, 0, 0, 0, 0, 0]), body]);
    const server = net.createServer((socket) => socket.end(Buffer.concat([notification, notification.subarray(0, cut)])));
    onCleanup(() => server.close());
    await new Promise<void>((r) => server.listen(socketPath, r));
    for (cut = 0; cut < notification.length; cut++) {
      const channel = native.connect(socketPath, 'length64');
      const rec = recorder();
      channel.start(rec.handlers);
      const reason = await rec.closed;
      expect(rec.frames).toEqual([{ type: 0, body }]);
      if (cut === 0) expect(reason).toBeNull();
      else if (cut < 8) expect(reason).toMatch(`header (got ${cut} of 8 bytes)`);
      else expect(reason).toMatch(`body (got ${cut - 8} of 40 bytes)`);
    }
  });

  it('closes with a reason when the peer goes away while output is queued', async () => {
    const { socketPath, listener } = listenRecording();
    listener.close();
    const accepted: net.Socket[] = [];
    const server = net.createServer((s) => {
      s.pause(); // never read
      accepted.push(s);
    });
    onCleanup(() => server.close());
    const peerPath = socketPath + '.peer';
    await new Promise<void>((r) => server.listen(peerPath, r));
    const channel = native.connect(peerPath, 'plasma');
    const rec = recorder();
    channel.start(rec.handlers);
    for (let i = 0; i < 16; i++) channel.sendFrame(1, Buffer.alloc(MiB));
    expect(channel.pendingWriteBytes).toBeGreaterThan(8 * MiB);
    await until(() => accepted.length === 1);
    accepted[0]!.destroy();
    expect(await rec.closed).toMatch(/EPIPE|ECONNRESET|output still queued/);
    expect(channel.pendingWriteBytes).toBe(0);
  });
});

describe('channel: malformed frames', () => {
  it('closes on a non-zero version without delivering anything', async () => {
    const { socketPath, accepted } = listenRecording();
    const socket = await rawClient(socketPath);
    socket.write(Buffer.concat([header(1, 1, 4), Buffer.alloc(4)]));
    await until(() => accepted.length === 1);
    expect(await accepted[0]!.rec.closed).toMatch(/^protocol error: frame with protocol version 1 \(Plasma uses 0\)/);
    expect(accepted[0]!.rec.frames).toEqual([]);
  });

  it('closes on an oversized or negative length as soon as the header arrives, without waiting for the body', async () => {
    const { socketPath, accepted } = listenRecording('plasma', (ch) => (ch.maxFrameBytes = 1000));
    const cases: [Buffer, RegExp][] = [
      [header(0, 1, 1001), /frame of 1001 bytes exceeds maxFrameBytes \(1000\)/],
      [header(0, 1, -5), /negative length -5/],
      [header(0, 1, 2n ** 62n), /exceeds maxFrameBytes/],
    ];
    for (const [i, [bytes, reason]] of cases.entries()) {
      const socket = await rawClient(socketPath);
      const ended = new Promise((r) => socket.on('close', r));
      socket.write(bytes); // and nothing more: the store must not wait for a body
      await until(() => accepted.length === i + 1);
      expect(await accepted[i]!.rec.closed).toMatch(reason);
      await ended; // our side hung up
    }
    // A frame of exactly the limit is fine.
    const socket = await rawClient(socketPath);
    socket.write(frame(3, Buffer.alloc(1000, 1)));
    await until(() => accepted.length === 4 && accepted[3]!.rec.frames.length === 1);
    expect(accepted[3]!.rec.frames[0]!.body.length).toBe(1000);
  });

  it('grows the assembly buffer only as bytes arrive, not to the claimed length', async () => {
    const { socketPath, accepted } = listenRecording();
    const socket = await rawClient(socketPath);
    const claimed = 200 * MiB; // under the default 256 MiB limit
    socket.write(header(0, 1, claimed));
    socket.write(Buffer.alloc(MiB, 7));
    await until(() => accepted.length === 1);
    const { channel, rec } = accepted[0]!;
    await until(() => channel.readBufferBytes >= MiB, 5000, 'the first MiB');
    await sleep(50);
    expect(channel.readBufferBytes).toBeLessThan(4 * MiB);
    socket.destroy();
    expect(await rec.closed).toBe(`peer closed the connection in the middle of a frame body (got ${MiB} of ${claimed} bytes)`);
  });

  it('enforces the limit in length64 mode too', async () => {
    const [a, b] = native.socketPair();
    const rx = native.channelFromFd(b, 'length64');
    onCleanup(() => rx.close());
    rx.maxFrameBytes = 16;
    const rec = recorder();
    rx.start(rec.handlers);
    const raw = new net.Socket({ fd: a, readable: true, writable: true });
    onCleanup(() => raw.destroy());
    const len = Buffer.alloc(8);
    len.writeBigInt64LE(17n);
    raw.write(len);
    expect(await rec.closed).toMatch(/frame of 17 bytes exceeds maxFrameBytes \(16\)/);
  });
});

describe('channel: handlers and lifetime', () => {
  it('stops delivering as soon as a handler closes the channel', async () => {
    const [tx, rx] = channelPair();
    const types: number[] = [];
    const rec = recorder();
    rx.start({
      ...rec.handlers,
      onFrame: (type) => {
        types.push(type);
        rx.close();
        rx.close(); // idempotent
      },
    });
    tx.start(recorder().handlers);
    for (let i = 1; i <= 100; i++) tx.sendFrame(i, Buffer.alloc(10));
    expect(await rec.closed).toBeNull();
    await sleep(20);
    expect(types).toEqual([1]);
    expect(rec.closeCount()).toBe(1);
  });

  it('holds buffered frames while paused from a handler and delivers them in order after resume', async () => {
    const [tx, rx] = channelPair();
    const types: number[] = [];
    rx.start({
      onFrame: (type) => {
        types.push(type);
        if (type === 10) rx.pauseReading();
      },
      onFd: () => {},
      onClose: () => {},
    });
    tx.start(recorder().handlers);
    for (let i = 1; i <= 100; i++) tx.sendFrame(i, Buffer.alloc(10));
    await until(() => types.length === 10);
    await sleep(50);
    expect(types.length).toBe(10);
    rx.resumeReading();
    expect(types.length).toBe(10); // never delivered from inside resumeReading()
    await until(() => types.length === 100);
    expect(types).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('end() drains the queue before closing; the peer sees every byte then EOF', async () => {
    const [tx, rx] = channelPair();
    const rec = recorder();
    rx.start(rec.handlers);
    rx.pauseReading();
    const txRec = recorder();
    tx.start(txRec.handlers);
    for (let i = 0; i < 50; i++) tx.sendFrame(i, Buffer.alloc(100_000, i));
    tx.end();
    expect(tx.sendFrame(1, Buffer.alloc(1))).toBe(false);
    await sleep(50);
    rx.resumeReading();
    expect(await txRec.closed).toBeNull();
    expect(await rec.closed).toBeNull();
    expect(rec.frames.map((f) => f.type)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(rec.frames.every((f, i) => f.body.length === 100_000 && f.body[99_999] === i)).toBe(true);
  });

  it('turns a throwing handler into an uncaught exception and keeps delivering', async () => {
    const child = forkHelper('channel-peer.ts', [JSON.stringify({ role: 'throw' })]);
    const result = await nextMessage<{ types: number[]; uncaught: string[] }>(child);
    expect(result).toEqual({ types: [1, 2, 3, 4], uncaught: ['handler failed on frame 2'] });
  });

  it('keeps an open channel alive when JS drops every reference to it', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const [a, b] = native.socketPair();
    const types: number[] = [];
    let closed: string | null | undefined;
    (() => {
      native.channelFromFd(b, 'plasma').start({ onFrame: (t) => types.push(t), onFd: () => {}, onClose: (r) => (closed = r) });
    })();
    gc();
    await sleep(10);
    gc();
    const tx = native.channelFromFd(a, 'plasma');
    tx.sendFrame(42, Buffer.from('still here'));
    await until(() => types.length === 1);
    expect(types).toEqual([42]);
    tx.close();
    await until(() => closed !== undefined);
    expect(closed).toBeNull();
  });

  it('keeps the process alive while open unless unref()ed', async () => {
    const exits = async (unref: boolean) => {
      const socketPath = path.join(tempDir(), 'unref.sock');
      const child = forkHelper('channel-peer.ts', [JSON.stringify({ role: 'unref', socketPath, unref })]);
      const exited = new Promise<string>((r) => child.once('exit', (code, signal) => r(`exit ${code ?? signal}`)));
      return Promise.race([exited, sleep(3000).then(() => 'still running')]);
    };
    // A clean exit, also through the environment teardown that runs the loop once more.
    expect(await exits(true)).toBe('exit 0');
    expect(await exits(false)).toBe('still running'); // killed by the cleanup
  });

  it('refuses a second start()', () => {
    const [tx] = channelPair();
    tx.start(recorder().handlers);
    expect(() => tx.start(recorder().handlers)).toThrow(expect.objectContaining({ code: 'ERR_STARTED' }));
  });
});

describe('listen and connect', () => {
  it('names ENOENT and ECONNREFUSED differently', async () => {
    const dir = tempDir();
    const missing = path.join(dir, 'missing.sock');
    expect(() => native.connect(missing, 'plasma')).toThrow(
      expect.objectContaining({ code: 'ENOENT', message: expect.stringMatching(/no such socket \(ENOENT\); is the store running\?/) }),
    );
    // A stale socket file: its listener died without removing it.
    const stale = path.join(dir, 'stale.sock');
    const script = `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`;
    spawnSync(process.execPath, ['-e', script]);
    expect(fs.statSync(stale).isSocket()).toBe(true);
    expect(() => native.connect(stale, 'plasma')).toThrow(
      expect.objectContaining({ code: 'ECONNREFUSED', message: expect.stringMatching(/connection refused \(ECONNREFUSED\); the socket file exists but nothing listens/) }),
    );
    // listen() replaces the stale file, refuses a live one, and removes its own on close.
    const listener = native.listen(stale, 'plasma', (ch) => ch.close());
    onCleanup(() => listener.close());
    expect(() => native.listen(stale, 'plasma', () => {})).toThrow(expect.objectContaining({ code: 'EADDRINUSE' }));
    const client = native.connect(stale, 'plasma');
    const rec = recorder();
    client.start(rec.handlers);
    expect(await rec.closed).toBeNull(); // the server closed it
    listener.close();
    expect(listener.closed).toBe(true);
    expect(fs.existsSync(stale)).toBe(false);
  });

  it('refuses a long path, a non-socket file and a missing directory', () => {
    const long = '/tmp/' + 'x'.repeat(103); // 108 bytes
    expect(() => native.listen(long, 'plasma', () => {})).toThrow('socket path too long (108 bytes, max 107): use a shorter path');
    expect(() => native.connect(long, 'plasma')).toThrow(/socket path too long \(108 bytes, max 107\)/);
    const file = path.join(tempDir(), 'not-a-socket');
    fs.writeFileSync(file, 'x');
    expect(() => native.listen(file, 'plasma', () => {})).toThrow(/exists and is not a socket/);
    expect(() => native.listen('/no-such-dir-pp/s.sock', 'plasma', () => {})).toThrow(/directory \/no-such-dir-pp does not exist/);
    expect(() => native.listen(file + '.sock', 'json' as FramingMode, () => {})).toThrow(TypeError);
  });

  it('accepts many connections and leaks no descriptors', async () => {
    const fdsBefore = openFdCount();
    const { socketPath, accepted, listener } = listenRecording();
    const clients: NativeChannel[] = [];
    for (let i = 0; i < 50; i++) {
      const c = native.connect(socketPath, 'plasma');
      c.start(recorder().handlers);
      c.sendFrame(i, Buffer.from([i]));
      clients.push(c);
    }
    await until(() => accepted.length === 50 && accepted.every((a) => a.rec.frames.length === 1));
    expect(accepted.map((a) => a.rec.frames[0]!.type).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    clients.forEach((c) => c.close());
    await Promise.all(accepted.map((a) => a.rec.closed));
    listener.close();
    await sleep(20);
    expect(openFdCount()).toBe(fdsBefore);
  });
});
