/**
 * How a store talks to one peer: one interface, two implementations, chosen once per connection of
 * a link (peer-link.ts): the peer channel when the peer offers one and it opens, gRPC otherwise.
 * ClusterNode calls only this interface; it never asks which one it has.
 *
 * Fetch (the copy transport) always starts with a gRPC Fetch call (it carries the pin and the
 * offer of a one-time data connection), so both implementations share it.
 */
import type { FetchedObject } from '../store/cluster-port.js';
import { fetchObject, type FetchSource } from './copy-transport.js';
import type { PeerChannel } from './peer-channel.js';
import type { HomeAnswer, Location } from './peer-handler.js';
import type { PeerClient } from './peer-service.js';

export interface PeerTransport {
  readonly kind: 'channel' | 'grpc';
  /** Claim an id at this peer as its home. */
  claim(key: string): Promise<HomeAnswer>;
  unclaim(key: string): void;
  /** Assert an id this node holds (its home moved to this peer). */
  hold(key: string): Promise<HomeAnswer>;
  /** Rejoining: ask to keep a sealed id. */
  reclaim(key: string, timeoutMs: number): Promise<HomeAnswer>;
  /** Relay ids a departed member held (SHA-1 of its name, hex) whose home this peer is now. */
  tombstones(ownerHash: string, entries: Iterable<[key: string, ageMs: number]>): void;
  /** Every hold for `view` has been sent. */
  settled(view: bigint): void;
  rejoining(view: bigint): void;
  /** Pin these at the peer: where each lies (undefined: not there), in order. */
  lookup(keys: readonly string[]): Promise<(Location | undefined)[]>;
  unpin(keys: Iterable<string>): void;
  /** Copy one object into memory `allocate` provides (copy transport). */
  fetch(key: string, allocate: (dataSize: number, metadataSize: number) => Uint8Array | null): Promise<FetchedObject | null>;
}

/** gRPC unary calls. Holds, reclaims and settles need the ordered channel: here they fail closed. */
export class GrpcTransport implements PeerTransport {
  readonly kind = 'grpc';

  constructor(
    private readonly client: PeerClient,
    private readonly self: string,
    private readonly timeoutMs: number,
    private readonly fetchSource: FetchSource,
  ) {}

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + this.timeoutMs };
  }

  claim(key: string): Promise<HomeAnswer> {
    return new Promise((resolve) =>
      this.client.claim({ id: Buffer.from(key, 'hex'), node: this.self }, this.deadline(), (error, reply) =>
        resolve(error ? 'unreachable' : reply.granted ? 'granted' : reply.retry ? 'retry' : 'denied'),
      ),
    );
  }

  unclaim(key: string): void {
    this.client.unclaim({ id: Buffer.from(key, 'hex'), node: this.self }, this.deadline(), () => undefined);
  }

  async hold(): Promise<HomeAnswer> {
    return 'unreachable';
  }

  async reclaim(): Promise<HomeAnswer> {
    return 'unreachable';
  }

  tombstones(): void {
    // Not over gRPC: nor is settled, so such a home grants nothing (fails closed).
  }

  settled(): void {
    // Not over gRPC: a home never sees this node settled, and grants it nothing (fails closed).
  }

  rejoining(): void {}

  lookup(keys: readonly string[]): Promise<(Location | undefined)[]> {
    return new Promise((resolve, reject) =>
      this.client.lookup({ holder: this.self, ids: keys.map((key) => Buffer.from(key, 'hex')) }, this.deadline(), (error, reply) => {
        if (error) return reject(new Error(error.details || error.message));
        resolve(
          reply.objects.map((o) =>
            o.found ? { offset: o.offset, dataSize: o.dataSize, metadataSize: o.metadataSize, digest: Uint8Array.from(o.digest) } : undefined,
          ),
        );
      }),
    );
  }

  unpin(keys: Iterable<string>): void {
    const ids = [...keys].map((key) => Buffer.from(key, 'hex'));
    // If this fails the owner's lease on these pins runs out instead.
    this.client.unpin({ holder: this.self, ids }, this.deadline(), () => undefined);
  }

  fetch(key: string, allocate: (dataSize: number, metadataSize: number) => Uint8Array | null): Promise<FetchedObject | null> {
    return fetchObject(this.fetchSource, key, allocate);
  }
}

/** The peer channel's frames; Fetch through gRPC. */
export class ChannelTransport implements PeerTransport {
  readonly kind = 'channel';

  constructor(
    private readonly channel: PeerChannel,
    private readonly grpc: GrpcTransport,
  ) {}

  claim(key: string): Promise<HomeAnswer> {
    return this.channel.claim(key);
  }

  unclaim(key: string): void {
    this.channel.unclaim(key);
  }

  hold(key: string): Promise<HomeAnswer> {
    return this.channel.hold(key);
  }

  reclaim(key: string, timeoutMs: number): Promise<HomeAnswer> {
    return this.channel.reclaim(key, timeoutMs);
  }

  tombstones(ownerHash: string, entries: Iterable<[key: string, ageMs: number]>): void {
    this.channel.tombstones(ownerHash, entries);
  }

  settled(view: bigint): void {
    this.channel.settled(view);
  }

  rejoining(view: bigint): void {
    this.channel.rejoining(view);
  }

  lookup(keys: readonly string[]): Promise<(Location | undefined)[]> {
    return this.channel.lookup(keys);
  }

  unpin(keys: Iterable<string>): void {
    this.channel.unpin(keys);
  }

  fetch(key: string, allocate: (dataSize: number, metadataSize: number) => Uint8Array | null): Promise<FetchedObject | null> {
    return this.grpc.fetch(key, allocate);
  }
}
