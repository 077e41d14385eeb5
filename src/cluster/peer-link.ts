/**
 * This store's connection to one peer: the gRPC client, the peer's identity and region, the
 * transport chosen for it, the stream of its seals and removals, and reconnection.
 */
import * as grpc from '@grpc/grpc-js';
import { native, type NativeRegion } from '../native/index.js';
import type { Segment } from '../store/segments.js';
import type { Logger } from '../util/log.js';
import { CHANNEL_TOKEN_HEADER, PEER_CHANNEL_HEADER, PeerChannel } from './peer-channel.js';
import { DATA_PORT_HEADER, type TlsMaterial } from './data-channel.js';
import type { MemberAddress } from './membership.js';
import { channelCredentials, clientOptions, type PeerAccess } from './peer-auth.js';
import type { NodeIdentity, ObjectEvent, PeerClient, PeerClientConstructor } from './peer-service.js';
import { ChannelTransport, GrpcTransport, type PeerTransport } from './peer-transport.js';
import type { XXHashAPI } from 'xxhash-wasm';

export type Transport = 'shared' | 'copy';

/** Delays between connection attempts: doubling from the first to the last. */
const FIRST_RETRY_MS = 100;
const LAST_RETRY_MS = 1000;

export interface PeerLinkOptions {
  self: NodeIdentity;
  /** How this store authenticates to the peer (cluster secret and/or TLS). */
  access: PeerAccess;
  /** For the peer channel (the same cluster CA and certificate as gRPC). */
  tlsMaterial: TlsMaterial | undefined;
  /** Deadline of every call that a client may be waiting for. */
  timeoutMs: number;
  /** For verifying fetched copies (copy transport). */
  hash: XXHashAPI;
  /** 'auto' maps the peer's region when it can, and copies otherwise. */
  transport: 'auto' | Transport;
  /** Registers a peer region as a new segment (ids never reused). */
  registerSegment(region: NativeRegion, node: string): Segment;
  onEvent(node: string, event: ObjectEvent): void;
  /** The link came up (its event stream starts with every object the peer has sealed). */
  onUp(node: string): void;
  /** The link went down: forget what was learnt from this peer. */
  onDown(node: string): void;
  log: Logger;
}

export class PeerLink {
  readonly client: PeerClient;
  identity: NodeIdentity | null = null;
  transport: Transport | null = null;
  segment: Segment | undefined;
  /** The peer channel (peer-channel.ts): claims, lookups, unpins, events; null while not opened. */
  private channel: PeerChannel | null = null;
  private channelTransport: ChannelTransport | null = null;
  private readonly grpcTransport: GrpcTransport;
  /** Every peer region mapped so far: kept open while their segments may be sent to clients. */
  private readonly regions: NativeRegion[] = [];
  private events: grpc.ClientReadableStream<ObjectEvent> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryDelayMs = FIRST_RETRY_MS;
  private closed = false;
  connected = false;

  constructor(
    readonly member: MemberAddress,
    Client: PeerClientConstructor,
    private readonly options: PeerLinkOptions,
  ) {
    this.client = new Client(
      member.address,
      channelCredentials(options.access),
      clientOptions(options.access, {
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
        'grpc.max_send_message_length': 64 * 1024 * 1024,
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 1000,
      }),
    );
    this.grpcTransport = new GrpcTransport(this.client, options.self.node, options.timeoutMs, {
      client: this.client,
      address: member.address,
      node: member.name,
      holder: options.self.node,
      hash: options.hash,
      tls: options.tlsMaterial,
      timeoutMs: options.timeoutMs,
    });
  }

  get name(): string {
    return this.member.name;
  }

  deadline(): grpc.CallOptions {
    return { deadline: Date.now() + this.options.timeoutMs };
  }

  /** Say hello, choose a transport, subscribe to events; retry (up to every second) until it works. */
  connect(): void {
    if (this.closed) return;
    const ask = new grpc.Metadata();
    ask.set(PEER_CHANNEL_HEADER, '1');
    let offer: { port: number; token: string } | null = null;
    const call = this.client.hello(this.options.self, ask, this.deadline(), (error, identity) => {
      if (this.closed) return;
      if (error) return this.retryLater(`hello failed: ${error.details || error.message}`);
      try {
        this.adopt(identity);
      } catch (failure) {
        return this.retryLater((failure as Error).message);
      }
      if (offer) this.openChannel(offer);
      else this.subscribeOverGrpc();
    });
    call.on('metadata', (metadata: grpc.Metadata) => {
      const port = Number(metadata.get(DATA_PORT_HEADER)[0]);
      const token = metadata.get(CHANNEL_TOKEN_HEADER)[0];
      if (Number.isInteger(port) && port > 0 && typeof token === 'string') offer = { port, token };
    });
  }

  /**
   * How to talk to this peer now: the channel if this connection opened one, else gRPC; null while
   * the link is down.
   */
  get peerTransport(): PeerTransport | null {
    if (!this.connected) return null;
    return this.channel?.open && this.channelTransport ? this.channelTransport : this.grpcTransport;
  }

  /** Events, claims, lookups over the peer channel; if it cannot be opened, all over gRPC. */
  private openChannel(offer: { port: number; token: string }): void {
    this.channel?.close();
    const host = this.member.address.replace(/:\d+$/, '');
    const channel: PeerChannel = new PeerChannel({ host, port: offer.port }, offer.token, this.options.tlsMaterial, this.options.timeoutMs, {
      onOpen: () => {
        this.up();
        channel.subscribe();
      },
      onEvent: (event) => this.options.onEvent(this.name, event),
      onClose: (wasOpen) => {
        if (this.channel !== channel) return;
        this.channel = null;
        if (wasOpen) return this.down('peer channel closed');
        if (this.closed) return;
        this.options.log.info('peer channel cannot be opened: events over gRPC', { peer: this.name, port: offer.port });
        this.subscribeOverGrpc();
      },
    }, this.options.log);
    this.channel = channel;
    this.channelTransport = new ChannelTransport(channel, this.grpcTransport);
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

  private subscribeOverGrpc(): void {
    const stream = this.client.events({ node: this.options.self.node });
    this.events = stream;
    this.up();
    stream.on('data', (event: ObjectEvent) => this.options.onEvent(this.name, event));
    stream.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) this.down(`event stream failed: ${error.details || error.message}`);
    });
    stream.on('end', () => this.down('event stream ended'));
  }

  private up(): void {
    this.connected = true;
    this.retryDelayMs = FIRST_RETRY_MS;
    // Before any event: what this peer has now arrives next, in order.
    this.options.onUp(this.name);
    this.options.log.info('peer connected', { peer: this.name, transport: this.transport, channel: this.channel !== null });
  }

  private down(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.events?.cancel();
    this.events = null;
    const channel = this.channel;
    this.channel = null;
    channel?.close();
    this.options.onDown(this.name);
    this.retryLater(reason);
  }

  private retryLater(reason: string): void {
    if (this.closed || this.retryTimer) return;
    this.options.log.info('peer unavailable; retrying', { peer: this.name, reason });
    // Peers of one cluster start together: retry soon at first, then every second.
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect();
    }, this.retryDelayMs);
    this.retryDelayMs = Math.min(LAST_RETRY_MS, this.retryDelayMs * 2);
    this.retryTimer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.events?.cancel();
    this.channel?.close();
    this.channel = null;
    this.client.close();
    for (const region of this.regions.splice(0)) region.close();
  }
}
