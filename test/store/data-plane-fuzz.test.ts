/**
 * The native data plane parses untrusted frames itself (issue 10). It must never crash the store
 * and must accept nothing the TypeScript decoder refuses: a frame TypeScript refuses closes the
 * connection (§13), one it accepts is answered. Mutated Get, Release, Contains, Create, Seal,
 * Abort, Delete and CreateAndSealBatch requests on raw connections that already hold the region's descriptor (so the native paths are
 * live), each followed by a Connect whose reply marks "the store is still answering".
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect, ObjectId } from '../../src/index.js';
import { native, type NativeChannel } from '../../src/native/index.js';
import { encodeRequest } from '../../src/protocol/client-codec.js';
import { MessageType, ProtocolError, type Request } from '../../src/protocol/messages.js';
import { decodeRequest } from '../../src/protocol/store-codec.js';
import { startStore } from '../../src/store/server.js';
import { createLogger, setLogLevel } from '../../src/util/log.js';
import { onCleanup, tempDir } from '../helpers/processes.js';

/** A deterministic generator (mulberry32), so that a failing case can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface RawConnection {
  channel: NativeChannel;
  replies: number[];
  closed: boolean;
  waitFor(done: () => boolean): Promise<void>;
}

function rawConnection(socketPath: string): RawConnection {
  const channel = native.connect(socketPath, 'plasma');
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const raw: RawConnection = {
    channel,
    replies: [],
    closed: false,
    waitFor: (done) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply and no close within 5 s')), 5000);
        const check = () => {
          if (done() || raw.closed) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      }),
  };
  channel.start({
    onFrame: (type) => {
      raw.replies.push(type);
      wake();
    },
    onFd: (fd) => native.closeFd(fd),
    onClose: () => {
      raw.closed = true;
      wake();
    },
  });
  return raw;
}

function send(raw: RawConnection, request: Request): void {
  const { type, body } = encodeRequest(request);
  raw.channel.sendFrame(type, body);
}

function mutate(body: Uint8Array, next: () => number): Uint8Array {
  const r = next();
  if (r < 0.15) return body.subarray(0, Math.floor(next() * body.byteLength)); // truncated
  const out = Uint8Array.from(body);
  const flips = 1 + Math.floor(next() * 4);
  for (let i = 0; i < flips; i++) {
    const at = Math.floor(next() * out.byteLength);
    // Small offsets and sizes are where a reader goes wrong; random bytes elsewhere.
    out[at] = next() < 0.5 ? Math.floor(next() * 256) : out[at]! ^ (1 << Math.floor(next() * 8));
  }
  return out;
}

function typescriptAccepts(type: number, body: Uint8Array): boolean {
  try {
    decodeRequest(type, body);
    return true;
  } catch (error) {
    if (error instanceof ProtocolError) return false;
    throw error;
  }
}

describe('native data plane, malformed frames', () => {
  it('answers what TypeScript accepts, closes what it refuses, and never fails the store', async () => {
    setLogLevel('error'); // hundreds of "closing connection: bad request" warnings are the point
    const handle = await startStore({
      socketPath: path.join(tempDir('pp-dataplane-fuzz-'), 'plasma.sock'),
      memory: 64 << 20,
      log: createLogger('test'),
    });
    onCleanup(() => handle.close());
    const writer = await connect(handle.socketPath);
    onCleanup(() => writer.close());
    const sealed = [0, 1, 2].map(() => ObjectId.random());
    for (const id of sealed) {
      const buffer = await writer.create(id, 100);
      await writer.seal(id);
      buffer.release();
    }
    const next = random(20261130);
    const cases = 400;
    let refused = 0;
    const nativeBefore = handle.store.nativeRequests;
    for (let i = 0; i < cases; i++) {
      const raw = rawConnection(handle.socketPath);
      // A get through TypeScript first: the connection receives the region's descriptor.
      send(raw, { kind: 'get', objectIds: [sealed[0]!], timeoutMs: 0 });
      await raw.waitFor(() => raw.replies.length === 1);
      const id = sealed[Math.floor(next() * sealed.length)]!;
      const fresh = ObjectId.random();
      const victim = ObjectId.random();
      const bases: Request[] = [
        { kind: 'get', objectIds: [id, sealed[0]!], timeoutMs: 0 },
        { kind: 'release', objectId: sealed[0]! },
        { kind: 'contains', objectId: id },
        { kind: 'create', objectId: fresh, evictIfFull: false, dataSize: 64, metadataSize: 8, deviceNum: 0 },
        { kind: 'seal', objectId: fresh, digest: new Uint8Array(8).fill(1) },
        { kind: 'abort', objectId: fresh },
        { kind: 'delete', objectIds: [victim, fresh] },
        {
          kind: 'createAndSealBatch',
          objectIds: [fresh, ObjectId.random()],
          evictIfFull: false,
          data: [new Uint8Array(40).fill(3), new Uint8Array(0)],
          metadata: [new Uint8Array(2), new Uint8Array(5)],
          digests: [new Uint8Array(8).fill(4), new Uint8Array(8).fill(5)],
        },
      ];
      const base = bases[Math.floor(next() * bases.length)]!;
      // What the request acts on: an object this connection is creating, one to delete.
      if (base.kind === 'abort' || base.kind === 'delete') {
        send(raw, { kind: 'create', objectId: fresh, evictIfFull: false, dataSize: 16, metadataSize: 0, deviceNum: 0 });
        await raw.waitFor(() => raw.replies.length === 2);
      }
      if (base.kind === 'delete') await writer.createAndSeal(victim, new Uint8Array(24));
      const { type, body } = encodeRequest(base);
      const mutated = mutate(body, next);
      const accepted = typescriptAccepts(type, mutated);
      raw.channel.sendFrame(type, mutated);
      raw.channel.sendFrame(MessageType.ConnectRequest, encodeRequest({ kind: 'connect' }).body);
      await raw.waitFor(() => raw.replies.includes(MessageType.ConnectReply));
      expect(raw.closed, `case ${i}: ${base.kind}, TypeScript ${accepted ? 'accepts' : 'refuses'} it`).toBe(!accepted);
      if (!accepted) refused++;
      raw.channel.close();
    }
    // Both outcomes were exercised, and native paths took part.
    expect(refused).toBeGreaterThan(20);
    expect(refused).toBeLessThan(cases - 20);
    expect(handle.store.nativeRequests - nativeBefore).toBeGreaterThan(10);
    expect(await writer.contains(sealed[1]!)).toBe(true);
    expect((await writer.list()).filter((o) => o.state === 'created')).toHaveLength(0);
  });
});
