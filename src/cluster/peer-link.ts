/**
 * This store's connection to one peer: the gRPC client, the peer's identity and region, the
 * transport chosen for it, the stream of its seals and removals, and reconnection.
 */
import * as grpc from '@grpc/grpc-js';
import { native, type NativeRegion } from '../native/index.js';
import type { Segment } from '../store/segments.js';
import type { Logger } from '../util/log.js';
import type { MemberAddress } from './membership.js';
import type { NodeIdentity, ObjectEvent, PeerClient, PeerClientConstructor } from './peer-service.js';

export type Transport = 'shared' | 'copy';

export interface PeerLinkOptions {
  self: NodeIdentity;
  credentials: grpc.ChannelCredentials;
  /** Deadline of every call that a client may be waiting for. */
  timeoutMs: number;
  /** 'auto' maps the peer's region when it can, and copies otherwise. */
  transport: 'auto' | Transport;
  /** Registers a peer region as a new segment (ids never reused). */
  registerSegment(region: NativeRegion, node: string): Segment;
  onEvent(node: string, event: ObjectEvent): void;
  /** The link went down: forget what was learnt from this peer. */
  onDown(node: string): void;
  log: Logger;
}

export class PeerLink {
  readonly client: PeerClient;
  identity: NodeIdentity | null = null;
  transport: Transport | null = null;
  segment: Segment | undefined;
  /** Every peer region mapped so far: kept open while their segments may be sent to clients. */
  private readonly regions: NativeRegion[] = [];
  private events: grpc.ClientReadableStream<ObjectEvent> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private closed = false;
  connected = false;

  constructor(
    readonly member: MemberAddress,
    Client: PeerClientConstructor,
    private readonly options: PeerLinkOptions,
  ) {
    this.client = new Client(member.address, options.credentials, {
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
    });
  }

  get name(): string {
    return this.member.name;
  }

  deadline(): grpc.CallOptions {
    return { deadline: Date.now() + this.options.timeoutMs };
  }

  /** Say hello, choose a transport, subscribe to events; retry every second until it works. */
  connect(): void {
    if (this.closed) return;
    this.client.hello(this.options.self, this.deadline(), (error, identity) => {
      if (this.closed) return;
      if (error) return this.retryLater(`hello failed: ${error.details || error.message}`);
      try {
        this.adopt(identity);
      } catch (failure) {
        return this.retryLater((failure as Error).message);
      }
      this.subscribe();
    });
  }

  private adopt(identity: NodeIdentity): void {
    if (identity.node !== this.member.name) {
      throw new Error(`peer at ${this.member.address} calls itself "${identity.node}", not "${this.member.name}": check --peer flags`);
    }
    const sameRegion = this.identity?.regionUuid === identity.regionUuid && this.segment;
    this.identity = identity;
    if (sameRegion) return;
    this.segment = undefined;
    this.transport = 'copy';
    if (this.options.transport === 'copy') return;
    try {
      // Only a region whose header carries the UUID the peer announced is ever mapped.
      const region = native.attachRegion(identity.regionPath, { expectUuid: identity.regionUuid });
      this.regions.push(region);
      this.segment = this.options.registerSegment(region, identity.node);
      this.transport = 'shared';
    } catch (error) {
      if (this.options.transport === 'shared') {
        throw new Error(`cannot map the region of ${identity.node} (${identity.regionPath}): ${(error as Error).message}`);
      }
      this.options.log.info('peer region not mappable here: using the copy transport', {
        peer: identity.node,
        reason: (error as Error).message,
      });
    }
  }

  private subscribe(): void {
    const stream = this.client.events({ node: this.options.self.node });
    this.events = stream;
    this.connected = true;
    this.options.log.info('peer connected', { peer: this.name, transport: this.transport });
    stream.on('data', (event: ObjectEvent) => this.options.onEvent(this.name, event));
    stream.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) this.down(`event stream failed: ${error.details || error.message}`);
    });
    stream.on('end', () => this.down('event stream ended'));
  }

  private down(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.events = null;
    this.options.onDown(this.name);
    this.retryLater(reason);
  }

  private retryLater(reason: string): void {
    if (this.closed || this.retryTimer) return;
    this.options.log.info('peer unavailable; retrying', { peer: this.name, reason });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, 1000);
    this.retryTimer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.events?.cancel();
    this.client.close();
    for (const region of this.regions.splice(0)) region.close();
  }
}
