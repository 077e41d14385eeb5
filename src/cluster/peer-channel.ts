/**
 * A persistent socket between two stores, next to gRPC, for the small messages of every create,
 * seal and remote get: claims (caller → home), lookups and unpins (reader → owner) and object
 * events (owner → subscriber). A gRPC unary call costs 0.4–0.7 ms here and a streamed event about
 * 0.1 ms of CPU on each side; a frame on an open TCP connection costs a few microseconds and a round
 * trip about 0.04 ms. gRPC Claim, Unclaim, Lookup, Unpin and Events remain the fallback while no
 * channel is open, and carry everything else (Hello, Renew, Fetch, Status).
 *
 * Opened through Hello: the caller asks with the request metadata `pp-peer-channel: 1`; the callee
 * answers with initial metadata `pp-data-port` and a `pp-channel-token` bound to the caller's
 * name. The caller connects to that port (the data-connection listener, data-channel.ts), sends the
 * 16-byte token, then frames.
 *
 * Caller → callee, 25 bytes each: op (1 claim, 2 unclaim, 3 subscribe, 4 lookup id, 5 lookup end,
 * 6 unpin, 7 hold, 8 reclaim, 9 settled, 10 rejoining, 11 tombstone owner, 12 tombstone), sequence
 * number (u32 LE), object id (20 bytes; zero for subscribe and lookup end; for settled and
 * rejoining the view id, u64 LE, then zeros; for tombstone owner the SHA-1 of a departed member's
 * name; a tombstone's sequence is its age in ms, and it belongs to the last owner frame). A lookup is its ids under one sequence number, then an end. docs/cluster.md has
 * the full table and what hold, reclaim, settled and rejoining mean.
 * Callee → caller: 1 claim reply (to claim, hold and reclaim): sequence (u32 LE), denied (0),
 * granted (1) or retry (2) — 6 bytes;
 * 2 sealed: id, data size (u64 LE), metadata size (u64 LE) — 37 bytes; 3 removed: id — 21 bytes;
 * 4 location: sequence, found (u8), offset, data size, metadata size (u64 LE each), digest (8) —
 * 38 bytes, one per looked-up id in order; 5 lookup done: sequence — 5 bytes.
 * Subscribe answers with a sealed frame for every object the callee owns, then live events, all
 * in order on this one connection (as the Events stream does).
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../util/log.js';
import type { TlsMaterial } from './data-channel.js';
import type { ObjectEvent } from './peer-service.js';
import type { HomeAnswer, Location, PeerHandler } from './peer-handler.js';

export type { HomeAnswer, Location } from './peer-handler.js';

export const PEER_CHANNEL_HEADER = 'pp-peer-channel';
export const CHANNEL_TOKEN_HEADER = 'pp-channel-token';

const OP_CLAIM = 1;
const OP_UNCLAIM = 2;
const OP_SUBSCRIBE = 3;
const OP_LOOKUP = 4;
const OP_LOOKUP_END = 5;
const OP_UNPIN = 6;
const OP_HOLD = 7;
const OP_RECLAIM = 8;
const OP_SETTLED = 9;
const OP_REJOINING = 10;
const OP_TOMBSTONE_OWNER = 11;
const OP_TOMBSTONE = 12;
const ID_BYTES = 20;
const REQUEST_BYTES = 1 + 4 + ID_BYTES;
const FRAME_CLAIMED = 1;
const FRAME_SEALED = 2;
const FRAME_REMOVED = 3;
const FRAME_LOCATION = 4;
const FRAME_LOOKED_UP = 5;
const FRAME_BYTES: Record<number, number> = {
  [FRAME_CLAIMED]: 6,
  [FRAME_SEALED]: 1 + ID_BYTES + 16,
  [FRAME_REMOVED]: 1 + ID_BYTES,
  [FRAME_LOCATION]: 1 + 4 + 1 + 24 + 8,
  [FRAME_LOOKED_UP]: 5,
};

const ANSWER_BYTE: Record<Exclude<HomeAnswer, 'unreachable'>, number> = { denied: 0, granted: 1, retry: 2 };
const ANSWERS: HomeAnswer[] = ['denied', 'granted', 'retry'];

/** A view id where the id of a request goes: u64 LE, then zeros. */
function viewKey(view: bigint): string {
  const bytes = Buffer.alloc(ID_BYTES);
  bytes.writeBigUInt64LE(view, 0);
  return bytes.toString('hex');
}

export function encodeEvent(event: ObjectEvent): Buffer {
  if (event.kind === 'REMOVED') {
    const frame = Buffer.alloc(FRAME_BYTES[FRAME_REMOVED]!);
    frame[0] = FRAME_REMOVED;
    event.id.copy(frame, 1);
    return frame;
  }
  const frame = Buffer.alloc(FRAME_BYTES[FRAME_SEALED]!);
  frame[0] = FRAME_SEALED;
  event.id.copy(frame, 1);
  frame.writeBigUInt64LE(BigInt(event.dataSize), 1 + ID_BYTES);
  frame.writeBigUInt64LE(BigInt(event.metadataSize), 1 + ID_BYTES + 8);
  return frame;
}

/**
 * Frames written once per event-loop turn: a seal's events leave after the reply to the client
 * that sealed (a loopback write costs the sender the receiver's TCP work too), and a burst of
 * seals costs one write.
 */
function batched(socket: net.Socket): (frame: Buffer) => void {
  let queue: Buffer[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const frames = queue;
    queue = [];
    if (!socket.destroyed) socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
  };
  return (frame) => {
    queue.push(frame);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}

function claimFrame(sequence: number, answer: HomeAnswer): Buffer {
  const reply = Buffer.alloc(FRAME_BYTES[FRAME_CLAIMED]!);
  reply[0] = FRAME_CLAIMED;
  reply.writeUInt32LE(sequence, 1);
  reply[5] = ANSWER_BYTE[answer === 'unreachable' ? 'retry' : answer];
  return reply;
}

function locationFrame(sequence: number, location: Location | undefined): Buffer {
  const frame = Buffer.alloc(FRAME_BYTES[FRAME_LOCATION]!);
  frame[0] = FRAME_LOCATION;
  frame.writeUInt32LE(sequence, 1);
  if (!location) return frame;
  frame[5] = 1;
  frame.writeBigUInt64LE(BigInt(location.offset), 6);
  frame.writeBigUInt64LE(BigInt(location.dataSize), 14);
  frame.writeBigUInt64LE(BigInt(location.metadataSize), 22);
  frame.set(location.digest.subarray(0, 8), 30);
  return frame;
}

/** Callee side: serve one caller's channel (`first`: bytes that came right after the token). */
export function serveChannel(socket: net.Socket, first: Buffer, handler: PeerHandler): void {
  socket.setNoDelay(true);
  let pending = first;
  let unsubscribe: (() => void) | null = null;
  const lookups = new Map<number, string[]>();
  let tombstoneOwner: string | null = null;
  const onData = (chunk: Buffer) => {
    pending = pending.byteLength > 0 ? Buffer.concat([pending, chunk]) : chunk;
    let at = 0;
    const replies: Buffer[] = [];
    const unpins: string[] = [];
    while (pending.byteLength - at >= REQUEST_BYTES) {
      const op = pending[at]!;
      const sequence = pending.readUInt32LE(at + 1);
      const key = pending.subarray(at + 5, at + REQUEST_BYTES).toString('hex');
      at += REQUEST_BYTES;
      if (op === OP_CLAIM) {
        replies.push(claimFrame(sequence, handler.claim(key)));
      } else if (op === OP_HOLD) {
        replies.push(claimFrame(sequence, handler.hold(key)));
      } else if (op === OP_RECLAIM) {
        handler.reclaim(key, (answer) => {
          if (!socket.destroyed) socket.write(claimFrame(sequence, answer));
        });
      } else if (op === OP_SETTLED || op === OP_REJOINING) {
        const view = pending.readBigUInt64LE(at - ID_BYTES);
        if (op === OP_SETTLED) handler.settled(view);
        else handler.rejoining(view);
      } else if (op === OP_UNCLAIM) {
        handler.unclaim(key);
      } else if (op === OP_TOMBSTONE_OWNER) {
        tombstoneOwner = key;
      } else if (op === OP_TOMBSTONE && tombstoneOwner !== null) {
        handler.tombstone(tombstoneOwner, key, sequence);
      } else if (op === OP_LOOKUP) {
        let keys = lookups.get(sequence);
        if (!keys) lookups.set(sequence, (keys = []));
        keys.push(key);
      } else if (op === OP_LOOKUP_END) {
        const keys = lookups.get(sequence) ?? [];
        lookups.delete(sequence);
        handler.lookup(keys).forEach((location) => replies.push(locationFrame(sequence, location)));
        const done = Buffer.alloc(FRAME_BYTES[FRAME_LOOKED_UP]!);
        done[0] = FRAME_LOOKED_UP;
        done.writeUInt32LE(sequence, 1);
        replies.push(done);
      } else if (op === OP_UNPIN) {
        unpins.push(key);
      } else if (op === OP_SUBSCRIBE && !unsubscribe) {
        if (replies.length > 0) socket.write(Buffer.concat(replies.splice(0)));
        const push = batched(socket);
        unsubscribe = handler.subscribe((event) => push(encodeEvent(event)));
      } else {
        socket.destroy();
        return;
      }
    }
    pending = pending.subarray(at);
    if (unpins.length > 0) handler.unpin(unpins);
    if (replies.length > 0) socket.write(replies.length === 1 ? replies[0]! : Buffer.concat(replies));
  };
  socket.on('data', onData);
  socket.once('close', () => unsubscribe?.());
  socket.resume();
  if (first.byteLength > 0) onData(Buffer.alloc(0));
}

export interface ChannelClientEvents {
  /** The connection is up (claims may use it; subscribe now). */
  onOpen(): void;
  onEvent(event: ObjectEvent): void;
  /** The connection is gone (`wasOpen`: it had opened). */
  onClose(wasOpen: boolean): void;
}

/** Caller side: the channel to one peer. */
export class PeerChannel {
  private readonly socket: net.Socket;
  private readonly waiting = new Map<number, { resolve(result: HomeAnswer): void; timer: NodeJS.Timeout }>();
  private readonly lookups = new Map<
    number,
    { locations: (Location | undefined)[]; resolve(locations: (Location | undefined)[]): void; reject(error: Error): void; timer: NodeJS.Timeout }
  >();
  private sequence = 0;
  private received: Buffer = Buffer.alloc(0);
  /** Connected and not closed. */
  open = false;

  constructor(
    address: { host: string; port: number },
    token: string,
    tlsMaterial: TlsMaterial | undefined,
    private readonly timeoutMs: number,
    private readonly events: ChannelClientEvents,
    log: Logger,
  ) {
    const host = address.host.replace(/^\[|\]$/g, '');
    const hello = Buffer.from(token, 'hex');
    if (tlsMaterial) {
      this.socket = tls.connect({ host, port: address.port, ca: tlsMaterial.ca, cert: tlsMaterial.cert, key: tlsMaterial.key, servername: net.isIP(host) ? undefined : host });
      this.socket.once('secureConnect', () => this.opened(hello));
    } else {
      this.socket = net.connect({ host, port: address.port });
      this.socket.once('connect', () => this.opened(hello));
    }
    // A peer that vanishes without a reset (cut off) is noticed by TCP keepalive.
    this.socket.setKeepAlive(true, 1000);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error) => log.debug('peer channel error', { peer: `${host}:${address.port}`, error: error.message }));
    this.socket.once('close', () => this.closed());
    // A claim is sent after the create's reply (and batched with others of the same turn).
    this.outgoing = batched(this.socket);
  }

  private readonly outgoing: (frame: Buffer) => void;

  claim(key: string): Promise<HomeAnswer> {
    return this.ask(OP_CLAIM, key, this.timeoutMs);
  }

  /** Tell the home that this node holds the id (after a membership change moved its home). */
  hold(key: string): Promise<HomeAnswer> {
    return this.ask(OP_HOLD, key, this.timeoutMs);
  }

  /** Rejoining: ask to keep a sealed id; the home answers once the others have settled. */
  reclaim(key: string, timeoutMs: number): Promise<HomeAnswer> {
    return this.ask(OP_RECLAIM, key, timeoutMs);
  }

  /** Every hold for `view` has been sent (they precede this on the channel). */
  settled(view: bigint): void {
    this.send(OP_SETTLED, 0, viewKey(view));
  }

  rejoining(view: bigint): void {
    this.send(OP_REJOINING, 0, viewKey(view));
  }

  private ask(op: number, key: string, timeoutMs: number): Promise<HomeAnswer> {
    const sequence = (this.sequence = (this.sequence + 1) >>> 0);
    return new Promise((resolve) => {
      // A home that does not answer in time is unreachable: the create fails closed.
      const timer = setTimeout(() => {
        this.waiting.delete(sequence);
        resolve('unreachable');
      }, timeoutMs);
      this.waiting.set(sequence, { resolve, timer });
      this.send(op, sequence, key);
    });
  }

  unclaim(key: string): void {
    this.send(OP_UNCLAIM, 0, key);
  }

  /** Ids a departed member held (`ownerHash`: SHA-1 of its name, hex), with their ages in ms. */
  tombstones(ownerHash: string, entries: Iterable<[key: string, ageMs: number]>): void {
    this.send(OP_TOMBSTONE_OWNER, 0, ownerHash);
    for (const [key, ageMs] of entries) this.send(OP_TOMBSTONE, Math.min(0xffffffff, Math.max(0, Math.round(ageMs))), key);
  }

  /** Pin these at the peer: where each lies (undefined: not there), in order. */
  lookup(keys: readonly string[]): Promise<(Location | undefined)[]> {
    const sequence = (this.sequence = (this.sequence + 1) >>> 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.lookups.delete(sequence);
        reject(new Error(`no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.lookups.set(sequence, { locations: [], resolve, reject, timer });
      for (const key of keys) this.send(OP_LOOKUP, sequence, key);
      this.send(OP_LOOKUP_END, sequence, null);
    });
  }

  unpin(keys: Iterable<string>): void {
    for (const key of keys) this.send(OP_UNPIN, 0, key);
  }

  /** Ask for the peer's sealed objects and, after them, its events (onEvent). */
  subscribe(): void {
    this.send(OP_SUBSCRIBE, 0, null);
  }

  close(): void {
    this.socket.destroy();
  }

  private send(op: number, sequence: number, key: string | null): void {
    const request = Buffer.alloc(REQUEST_BYTES);
    request[0] = op;
    request.writeUInt32LE(sequence, 1);
    if (key) request.write(key, 5, 'hex');
    this.outgoing(request);
  }

  private opened(hello: Buffer): void {
    this.socket.setNoDelay(true);
    this.socket.write(hello);
    this.open = true;
    this.events.onOpen();
  }

  private onData(chunk: Buffer): void {
    this.received = this.received.byteLength > 0 ? Buffer.concat([this.received, chunk]) : chunk;
    let at = 0;
    while (at < this.received.byteLength) {
      const type = this.received[at]!;
      const size = FRAME_BYTES[type];
      if (size === undefined) {
        this.socket.destroy();
        return;
      }
      if (this.received.byteLength - at < size) break;
      const frame = this.received.subarray(at, at + size);
      at += size;
      if (type === FRAME_CLAIMED) {
        const sequence = frame.readUInt32LE(1);
        const waiter = this.waiting.get(sequence);
        if (!waiter) continue; // timed out already
        this.waiting.delete(sequence);
        clearTimeout(waiter.timer);
        waiter.resolve(ANSWERS[frame[5]!] ?? 'retry');
      } else if (type === FRAME_LOCATION) {
        this.lookups.get(frame.readUInt32LE(1))?.locations.push(
          frame[5] === 1
            ? {
                offset: Number(frame.readBigUInt64LE(6)),
                dataSize: Number(frame.readBigUInt64LE(14)),
                metadataSize: Number(frame.readBigUInt64LE(22)),
                digest: Uint8Array.from(frame.subarray(30, 38)),
              }
            : undefined,
        );
      } else if (type === FRAME_LOOKED_UP) {
        const sequence = frame.readUInt32LE(1);
        const lookup = this.lookups.get(sequence);
        if (!lookup) continue;
        this.lookups.delete(sequence);
        clearTimeout(lookup.timer);
        lookup.resolve(lookup.locations);
      } else {
        const id = Buffer.from(frame.subarray(1, 1 + ID_BYTES));
        this.events.onEvent(
          type === FRAME_SEALED
            ? { kind: 'SEALED', id, dataSize: Number(frame.readBigUInt64LE(1 + ID_BYTES)), metadataSize: Number(frame.readBigUInt64LE(1 + ID_BYTES + 8)) }
            : { kind: 'REMOVED', id, dataSize: 0, metadataSize: 0 },
        );
      }
    }
    this.received = this.received.subarray(at);
  }

  private closed(): void {
    const wasOpen = this.open;
    this.open = false;
    for (const [sequence, waiter] of this.waiting) {
      clearTimeout(waiter.timer);
      this.waiting.delete(sequence);
      waiter.resolve('unreachable');
    }
    for (const [sequence, lookup] of this.lookups) {
      clearTimeout(lookup.timer);
      this.lookups.delete(sequence);
      lookup.reject(new Error('peer channel closed'));
    }
    this.events.onClose(wasOpen);
  }
}
