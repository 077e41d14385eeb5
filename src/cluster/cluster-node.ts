/**
 * A store's membership in a cluster: the gRPC server peers call, the links to every peer, the
 * directory of objects sealed elsewhere, id claims at home nodes, and leases on pins.
 *
 * Data path: a get for a peer's object costs one Lookup per owner node (which pins it there);
 * the client then reads the owner's region in place. Where the region cannot be mapped, the copy
 * transport (copy-transport.ts) fetches the bytes into a local replica instead. Claims and object
 * events travel on a peer channel (peer-channel.ts) next to gRPC, which remains their fallback.
 * See docs/cluster.md.
 */
import { hash as digestOf } from 'node:crypto';
import fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import xxhash, { type XXHashAPI } from 'xxhash-wasm';
import type { NativeRegion } from '../native/index.js';
import type {
  AttachedCluster,
  ClaimResult,
  ClusterCounters,
  ClusterHealth,
  ClusterStore,
  FetchedObject,
  NodeState,
  PeerState,
  RemoteObject,
} from '../store/cluster-port.js';
import { PeerHolder } from '../store/cluster-port.js';
import type { Segment } from '../store/segments.js';
import type { Logger } from '../util/log.js';
import { CHANNEL_TOKEN_HEADER, PEER_CHANNEL_HEADER, serveChannel } from './peer-channel.js';
import type { HomeAnswer, PeerHandler } from './peer-handler.js';
import { serveFetch } from './copy-transport.js';
import type { PeerTransport } from './peer-transport.js';
import { RemoteGets } from './remote-gets.js';
import { DataServer, DATA_PORT_HEADER, type TlsMaterial } from './data-channel.js';
import { requireSecret, type TlsFiles } from './peer-auth.js';
import { homeNodeOf, successorNodeOf } from './home-node.js';
import type { MemberAddress, MemberRecord, Membership } from './membership.js';
import { PeerLink } from './peer-link.js';
import {
  peerService,
  type ClaimReply,
  type ClaimRequest,
  type FetchChunk,
  type LookupRequest,
  type NodeIdentity,
  type ObjectEvent,
  type PeerClientConstructor,
  type PinRequest,
  type StatusReply,
} from './peer-service.js';

export type { TlsFiles } from './peer-auth.js';
export type { ClusterCounters, ClusterHealth, NodeState } from '../store/cluster-port.js';

export interface ClusterOptions {
  membership: Membership;
  /** How long a peer's pins live without renewal (default 10 s). */
  leaseMs?: number;
  /** Deadline of calls a client waits for; a dead peer fails this fast (default 1 s). */
  peerTimeoutMs?: number;
  transport?: 'auto' | 'shared' | 'copy';
  tls?: TlsFiles;
  /** The cluster secret every peer call must carry; required unless TLS authenticates peers. */
  secret?: Buffer;
  /** Allow a non-loopback listen address without TLS (logged as a warning). */
  insecure?: boolean;
  /** Where peers open this store's region (default: the region's path). */
  regionAttachPath?: string;
  /** Bytes per Fetch message (copy transport). */
  chunkBytes?: number;
  /** The gRPC address peers use, when it differs from the listen address (0.0.0.0, NAT). */
  advertise?: string;
  /** etcd: how long ids of a member that left stay reserved for it (tombstones; default 10 min). */
  departedTtlMs?: number;
}

/**
 * An id a peer held when it went away (link down, or left the view): nobody else may claim it.
 * `node` is the member's name, or `sha1:HEX` (the SHA-1 of its name) when another member relayed it.
 */
interface Tombstone {
  node: string;
  since: number;
}

/** How a tombstone's owner travels between members (the wire carries 20 bytes, not a name). */
function ownerHash(node: string): string {
  return node.startsWith('sha1:') ? node.slice(5) : digestOf('sha1', node);
}

function ownedBy(tomb: Tombstone, node: string): boolean {
  return tomb.node === node || (tomb.node.startsWith('sha1:') && tomb.node.slice(5) === digestOf('sha1', node));
}

/** At this node as home: who holds an id, and the settle round it was last asserted in. */
interface ClaimRecord {
  node: string;
  mark: number;
}

const RECLAIM_TIMEOUT_MS = 5000;
/** How long start() waits for the first settle of every member before saying ready anyway. */
const START_LIVE_WAIT_MS = 5000;
const REJOIN_RETRY_MS = 100;

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|::1)$/;

export class ClusterNode implements AttachedCluster {
  private readonly links = new Map<string, PeerLink>();
  /** key → the peer that sealed it (learnt from event streams). */
  private readonly directory = new Map<string, string>();
  /**
   * key → the peer that held it when that peer went down or left the view (its sealed objects,
   * the claims it held here as home or successor). With etcd these are tombstones: the id exists
   * on a member that is away, so no claim for it is granted until that member settles again, a
   * removal arrives, or departedTtlMs passes.
   */
  private readonly lost = new Map<string, Tombstone>();
  /** At this node as home: key → the node whose object holds the id. */
  private readonly claims = new Map<string, ClaimRecord>();
  /** Ids of local objects whose claim is certainly this node's (the only ones it may seal). */
  private readonly held = new Set<string>();
  /** Dynamic membership: per peer, the view it settled (sent every hold for) / rejoins in. */
  private readonly settledBy = new Map<string, bigint>();
  private readonly rejoiningBy = new Map<string, bigint>();
  /** Per peer: the settle round (ClaimRecord.mark) and the view it was last pruned at. */
  private readonly markOf = new Map<string, number>();
  private readonly prunedAt = new Map<string, bigint>();
  /** Reclaims of rejoining peers waiting until the others have settled. */
  private deferredReclaims: { node: string; key: string; answer(result: HomeAnswer): void }[] = [];
  /** Rejoining: own sealed ids still to re-claim, those in flight (→ view), and those not announced yet. */
  private toReclaim = new Set<string>();
  private readonly reclaiming = new Map<string, bigint>();
  private readonly hidden = new Set<string>();
  private readonly sentRejoining = new Map<string, bigint>();
  private rejoinTimer: NodeJS.Timeout | null = null;
  state: NodeState = 'live';
  /** Bumped whenever the node is fenced or rejoins: answers to older claims are void. */
  private epoch = 0;
  private homeNames: string[] = [];
  readonly counters: ClusterCounters = {
    claimsGranted: 0,
    claimsDenied: 0,
    claimsRetried: 0,
    claimsUnreachable: 0,
    createsRefusedFenced: 0,
    sealsRefusedFenced: 0,
    duplicateIds: 0,
    reclaimed: 0,
    reclaimLost: 0,
  };
  /** Peers holding pins or claims here. */
  private readonly holders = new Map<string, PeerHolder>();
  /** Peers subscribed to this store's seals and removals (peer channel or gRPC Events). */
  private readonly eventSubscribers = new Set<(event: ObjectEvent) => void>();
  /** gRPC Events streams open now, ended on close. */
  private readonly eventCalls = new Set<grpc.ServerWritableStream<{ node: string }, ObjectEvent>>();
  /** One handler per calling node (handlerFor). */
  private readonly peerHandlers = new Map<string, PeerHandler>();
  private readonly pendingUnpins = new Map<string, Set<string>>();
  private unpinFlush: NodeJS.Immediate | null = null;
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly departedTtlMs: number;
  private readonly chunkBytes: number;
  private hash!: XXHashAPI;
  /** Copy transport's bulk byte path (null until started). */
  private dataServer: DataServer | null = null;
  private dataPort = 0;
  /** Peer channel tokens handed to peers (one per peer name, see peer-channel.ts). */
  private readonly channelTokens = new Map<string, string>();
  private readonly tlsMaterial: TlsMaterial | undefined;
  private readonly remoteGets: RemoteGets;
  private identity!: NodeIdentity;
  readonly self: MemberAddress;

  constructor(
    private readonly store: ClusterStore,
    private readonly region: NativeRegion,
    private readonly socketPath: string,
    private readonly options: ClusterOptions,
    private readonly log: Logger,
  ) {
    this.self = options.membership.self;
    this.leaseMs = options.leaseMs ?? 10_000;
    this.timeoutMs = options.peerTimeoutMs ?? 1_000;
    this.departedTtlMs = options.departedTtlMs ?? 600_000;
    this.chunkBytes = options.chunkBytes ?? 4 * 1024 * 1024;
    const tls = options.tls;
    this.tlsMaterial = tls && { ca: fs.readFileSync(tls.ca), cert: fs.readFileSync(tls.cert), key: fs.readFileSync(tls.key) };
    this.remoteGets = new RemoteGets(this, store, log);
  }

  /** Listen for peers and start connecting to them. */
  async start(): Promise<void> {
    this.hash = await xxhash();
    const host = this.self.address.replace(/:\d+$/, '');
    const secure = this.options.tls !== undefined;
    if (!LOOPBACK.test(host) && !secure && !this.options.insecure) {
      throw new Error(
        `refusing to listen on ${this.self.address} without TLS: pass --tls-ca/--tls-cert/--tls-key (a cluster CA), or --insecure on a trusted network`,
      );
    }
    if (!LOOPBACK.test(host) && !secure) {
      this.log.warn('cluster traffic is unauthenticated and unencrypted (--insecure)', { listen: this.self.address });
    }
    if (!secure && !this.options.secret) {
      throw new Error(
        'the cluster port needs authentication, even on loopback (any local user could call it): pass --secret-file FILE ' +
          '(a 0600 file with the same secret on every node; `plasmapool cluster up` makes one), or mutual TLS with --tls-ca/--tls-cert/--tls-key',
      );
    }
    const { service, Client } = peerService();
    this.server.addService(service, this.options.secret ? requireSecret(this.handlers(), this.options.secret) : this.handlers());
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(this.self.address, this.serverCredentials(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    // The copy transport's data connections listen on the same host, on a port of their own.
    this.dataServer = new DataServer(this.tlsMaterial, this.timeoutMs, this.log);
    this.dataPort = await this.dataServer.listen(host);
    this.identity = {
      node: this.self.name,
      // A region file unlinked at creation is still reachable through its owner's descriptor.
      regionPath: this.options.regionAttachPath ?? this.region.path,
      regionUuid: this.region.uuid,
      mapLength: this.region.mapLength,
      grpcAddress: this.self.address.replace(/:\d+$/, `:${port}`),
      socketPath: this.socketPath,
    };
    this.peerClient = Client;
    const membership = this.options.membership;
    if (membership.dynamic) {
      this.state = 'rejoining';
      try {
        await membership.join(this.record());
      } catch (error) {
        // Not a member: release the ports bound above before reporting why.
        this.dataServer.close();
        this.server.forceShutdown();
        throw error;
      }
      membership.onChange(() => this.applyView());
      membership.onLiveness((live) => (live ? this.beginRejoin() : this.onFenced()));
    }
    this.applyView();
    if (membership.dynamic) {
      this.beginRejoin();
      await this.untilLive(START_LIVE_WAIT_MS);
    }
    this.every(Math.max(50, Math.floor(this.leaseMs / 3)), () => this.renewLeases());
    this.every(Math.max(50, Math.floor(this.leaseMs / 4)), () => this.expireLeases());
    this.every(Math.max(50, Math.min(5_000, Math.floor(this.departedTtlMs / 4))), () => this.expireTombstones());
  }

  private peerClient!: PeerClientConstructor;

  /** What this store registers in etcd. */
  private record(): MemberRecord {
    const transport = this.options.transport ?? 'auto';
    return {
      name: this.self.name,
      address: this.options.advertise ?? this.identity.grpcAddress,
      regionPath: this.identity.regionPath,
      regionUuid: this.identity.regionUuid,
      mapLength: this.identity.mapLength,
      transports: transport === 'auto' ? ['shared', 'copy'] : [transport],
      socketPath: this.socketPath,
    };
  }

  get grpcAddress(): string {
    return this.identity.grpcAddress;
  }

  /** Transport and state of every peer, for status output. */
  peerStates(): PeerState[] {
    return [...this.links.values()].map((link) => ({
      node: link.name,
      address: link.member.address,
      connected: link.connected,
      transport: link.transport ?? 'unknown',
    }));
  }

  // ------------------------------------------------------------ ClusterPort (the store calls these)

  locate(key: string): string | undefined {
    return this.directory.get(key);
  }

  /**
   * Nothing can bring this key here now, so a get should not wait for it: its owner went down,
   * or its home node is down (no node can seal it while its claim cannot be settled).
   */
  unavailable(key: string): boolean {
    if (this.directory.has(key)) return false;
    const home = this.homeOf(key);
    if (home !== this.self.name && !this.links.get(home)?.connected) return true;
    const owner = this.lost.get(key)?.node;
    return owner !== undefined && !this.links.get(owner)?.connected;
  }

  segmentOf(node: string): Segment | undefined {
    const link = this.links.get(node);
    return link?.connected && link.transport === 'shared' ? link.segment : undefined;
  }

  lookup(node: string, keys: string[]): Promise<RemoteObject[]> {
    const link = this.liveLink(node);
    // An unpin of these not sent yet would land after this lookup and drop the new pin: the
    // lookup pins them anyway (one pin per holder), so the unpin is simply withdrawn.
    const unsent = this.pendingUnpins.get(node);
    if (unsent) for (const key of keys) unsent.delete(key);
    return this.transportTo(link).lookup(keys).then(
      (locations) =>
        keys.flatMap((key, i) => {
          const location = locations[i];
          return location ? [{ key, node, ...location }] : [];
        }),
      (error: Error) => {
        throw new Error(`lookup at ${node} failed: ${error.message}`);
      },
    );
  }

  fetch(
    node: string,
    key: string,
    allocate: (dataSize: number, metadataSize: number) => Uint8Array | null,
  ): Promise<FetchedObject | null> {
    return this.transportTo(this.liveLink(node)).fetch(key, allocate);
  }

  resolve(keys: string[]): Promise<void> {
    return this.remoteGets.resolve(keys);
  }

  unpin(node: string, keys: string[]): void {
    let set = this.pendingUnpins.get(node);
    if (!set) this.pendingUnpins.set(node, (set = new Set()));
    for (const key of keys) set.add(key);
    // Releases arrive one by one; send them to each owner in one call.
    this.unpinFlush ??= setImmediate(() => this.flushUnpins());
  }

  acceptsCreates(): boolean {
    if (this.state === 'live' && this.options.membership.live()) return true;
    this.counters.createsRefusedFenced++;
    return false;
  }

  maySeal(key: string): boolean {
    if (this.held.has(key) && this.state === 'live' && this.options.membership.live()) return true;
    if (this.state !== 'live' || !this.options.membership.live()) this.counters.sealsRefusedFenced++;
    return false;
  }

  claim(key: string): ClaimResult | Promise<ClaimResult> {
    if (this.options.membership.dynamic) return this.claimInView(key);
    const home = this.homeOf(key);
    if (home === this.self.name) return this.settleClaim(key, this.claimHere(key, this.self.name));
    const transport = this.links.get(home)?.peerTransport;
    if (!transport) return this.settleClaim(key, 'unreachable');
    return transport.claim(key).then((answer) => this.settleClaim(key, answer));
  }

  /** A home's answer as the store sees it; a granted id is held from now on. */
  private settleClaim(key: string, answer: HomeAnswer): ClaimResult {
    if (answer === 'granted') {
      this.held.add(key);
      return 'granted';
    }
    if (answer === 'denied') return 'denied';
    this.counters.claimsUnreachable++;
    return 'unreachable';
  }

  /**
   * Dynamic membership: claim at the home of the current view; a grant counts only if the view
   * did not change meanwhile (else ask the new home), "retry" is asked again until the deadline.
   */
  private async claimInView(key: string): Promise<ClaimResult> {
    const epoch = this.epoch;
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const view = this.options.membership.viewId();
      const home = this.homeOf(key);
      let answer: HomeAnswer;
      if (home === this.self.name) {
        answer = this.claimHere(key, this.self.name, view);
        if (answer === 'granted') answer = await this.recordAtSuccessor(key);
      } else {
        const transport = this.links.get(home)?.peerTransport;
        answer = transport ? await transport.claim(key) : 'unreachable';
      }
      if (epoch !== this.epoch || this.state !== 'live') return this.settleClaim(key, 'unreachable');
      if (answer === 'denied') return 'denied';
      if (answer === 'granted' && view === this.options.membership.viewId()) return this.settleClaim(key, 'granted');
      if (Date.now() >= deadline) return this.settleClaim(key, 'unreachable');
      await new Promise((resolve) => setTimeout(resolve, answer === 'granted' ? 0 : 10));
    }
  }

  /**
   * A claim this node granted itself as home is recorded at the id's successor before the seal is
   * acknowledged: if this node is cut off, the successor becomes home and still knows the id is
   * held (its record becomes a tombstone). No answer in time: the claim is withdrawn (fails closed).
   */
  private async recordAtSuccessor(key: string): Promise<HomeAnswer> {
    const successor = successorNodeOf(key, this.homeNames);
    if (!successor) return 'granted';
    const transport = this.links.get(successor)?.peerTransport;
    const answer = transport ? await transport.hold(key) : 'unreachable';
    if (answer === 'granted') return 'granted';
    if (this.claims.get(key)?.node === this.self.name) this.claims.delete(key);
    if (answer === 'denied') this.counters.claimsDenied++;
    return answer;
  }

  unclaim(key: string): void {
    this.held.delete(key);
    const home = this.homeOf(key);
    if (home === this.self.name) {
      if (this.claims.get(key)?.node === this.self.name) this.claims.delete(key);
      if (this.options.membership.dynamic) {
        const successor = successorNodeOf(key, this.homeNames);
        if (successor) this.links.get(successor)?.peerTransport?.unclaim(key);
      }
      return;
    }
    this.links.get(home)?.peerTransport?.unclaim(key);
  }

  announceSealed(key: string, dataSize: number, metadataSize: number): void {
    this.broadcast({ kind: 'SEALED', id: Buffer.from(key, 'hex'), dataSize, metadataSize });
  }

  announceRemoved(key: string): void {
    this.broadcast({ kind: 'REMOVED', id: Buffer.from(key, 'hex'), dataSize: 0, metadataSize: 0 });
  }

  // ------------------------------------------------------------ internals

  private homeOf(key: string): string {
    return homeNodeOf(key, this.homeNames);
  }

  /** The token that opens `node`'s peer channel to this store (the same on every Hello). */
  private channelTokenFor(node: string): string {
    let token = this.channelTokens.get(node);
    if (!token) {
      token = this.dataServer!.openChannel((socket, first) => serveChannel(socket, first, this.handlerFor(node))).token;
      this.channelTokens.set(node, token);
    }
    return token;
  }

  /** What this store does for `node`'s control messages, on the peer channel and over gRPC alike. */
  private handlerFor(node: string): PeerHandler {
    let handler = this.peerHandlers.get(node);
    if (handler) return handler;
    handler = {
      claim: (key) => this.claimHere(key, node, this.settledBy.get(node)),
      unclaim: (key) => {
        if (this.claims.get(key)?.node === node) this.claims.delete(key);
      },
      hold: (key) => this.hold(key, node),
      tombstone: (owner, key, ageMs) => {
        if (!this.options.membership.dynamic || this.lost.has(key)) return;
        this.lost.set(key, { node: `sha1:${owner}`, since: Date.now() - ageMs });
      },
      reclaim: (key, answer) => {
        this.deferredReclaims.push({ node, key, answer });
        this.evaluateDeferred();
      },
      settled: (view) => {
        // Its holds preceded this: what it did not assert or re-claim it no longer has.
        this.forgetLost(node);
        this.settledBy.set(node, view);
        this.rejoiningBy.delete(node);
        this.pruneSettled(node);
        this.evaluateDeferred();
      },
      rejoining: (view) => {
        this.rejoiningBy.set(node, view);
        this.settledBy.delete(node);
        this.evaluateDeferred();
      },
      lookup: (keys) => {
        const found = new Map(this.store.lookupForPeer(this.holderFor(node), keys).map((o) => [o.key, o]));
        return keys.map((key) => found.get(key));
      },
      unpin: (keys) => {
        const holder = this.holders.get(node);
        if (holder) this.store.unpinForPeer(holder, keys);
      },
      subscribe: (push) => {
        this.holderFor(node);
        for (const object of this.store.ownedSealed()) {
          if (this.hidden.has(object.key)) continue;
          push({ kind: 'SEALED', id: Buffer.from(object.id.bytes), dataSize: object.dataSize, metadataSize: object.metadataSize });
        }
        this.eventSubscribers.add(push);
        return () => this.eventSubscribers.delete(push);
      },
    };
    this.peerHandlers.set(node, handler);
    return handler;
  }

  /**
   * As home: grant the id to `node` unless another node holds it. With a dynamic membership only
   * while this node is a member, the caller claims in this node's view, and every member has
   * settled that view (sent its holds), so no id changes home with a claim in flight.
   */
  private claimHere(key: string, node: string, callerView?: bigint): HomeAnswer {
    if (this.options.membership.dynamic) {
      const view = this.options.membership.viewId();
      if (this.state !== 'live' || !this.options.membership.live() || callerView !== view || !this.allSettled(view) || this.homeOf(key) !== this.self.name) {
        this.counters.claimsRetried++;
        return 'retry';
      }
    }
    const owner = this.claims.get(key);
    if ((owner !== undefined && owner.node !== node) || this.tombstoned(key, node)) {
      this.counters.claimsDenied++;
      return 'denied';
    }
    this.claims.set(key, { node, mark: this.markOf.get(node) ?? 0 });
    if (node !== this.self.name) this.holderFor(node);
    this.counters.claimsGranted++;
    return 'granted';
  }

  /**
   * A member asserts an id it holds (its home moved here, or this node is the successor of an id
   * the member is home of): record it; a clash is a duplicate. An id held by a member that is
   * away is refused without counting: for a successor record that is a claim denied in time.
   */
  private hold(key: string, node: string): HomeAnswer {
    if (this.tombstoned(key, node)) return 'denied';
    const owner = this.claims.get(key);
    if (owner !== undefined && owner.node !== node) {
      this.duplicate(key, owner.node, node);
      return 'denied';
    }
    this.claims.set(key, { node, mark: this.markOf.get(node) ?? 0 });
    return 'granted';
  }

  /** With etcd: the id is held by a member other than `node` that is away (see lost). */
  private tombstoned(key: string, node: string): boolean {
    if (!this.options.membership.dynamic) return false;
    const tomb = this.lost.get(key);
    if (tomb === undefined || ownedBy(tomb, node)) return false;
    if (Date.now() - tomb.since < this.departedTtlMs) return true;
    this.lost.delete(key);
    return false;
  }

  /** With etcd only: a static membership keeps `lost` until the peer is back (gets fail fast). */
  private expireTombstones(): void {
    if (!this.options.membership.dynamic) return;
    const now = Date.now();
    let expired = 0;
    for (const [key, tomb] of this.lost) {
      if (now - tomb.since < this.departedTtlMs) continue;
      this.lost.delete(key);
      expired++;
    }
    if (expired > 0) this.log.info('tombstones of departed members expired', { ids: expired });
  }

  private duplicate(key: string, holder: string, other: string): void {
    this.counters.duplicateIds++;
    this.log.error('two nodes hold one id', { object: key, claimedBy: holder, alsoHeldBy: other });
  }

  // ------------------------------------------------------------ dynamic membership

  /** Links follow the view: one per member; a member that left takes its state with it. */
  private applyView(): void {
    const wanted = new Map(this.options.membership.peers().map((member) => [member.name, member]));
    const gone: string[] = [];
    for (const [name, link] of this.links) {
      const member = wanted.get(name);
      if (member && member.address === link.member.address && member.incarnation === link.member.incarnation) continue;
      gone.push(name);
    }
    for (const name of gone) this.removeMember(name);
    for (const member of wanted.values()) if (!this.links.has(member.name)) this.addLink(member);
    this.homeNames = [this.self.name, ...this.links.keys()];
    if (gone.length > 0) this.store.peerDown();
    if (!this.options.membership.dynamic) return;
    if (this.state === 'live') {
      this.holdLocally();
      for (const link of this.links.values()) this.settleWith(link);
    } else if (this.state === 'rejoining') this.driveRejoin();
    for (const name of this.links.keys()) this.pruneSettled(name);
    this.evaluateDeferred();
  }

  private addLink(member: MemberAddress): void {
    const link = new PeerLink(member, this.peerClient, {
      self: this.identity,
      access: { tls: this.options.tls, secret: this.options.secret },
      tlsMaterial: this.tlsMaterial,
      timeoutMs: this.timeoutMs,
      hash: this.hash,
      transport: this.options.transport ?? 'auto',
      registerSegment: (region, node) => this.store.segments.register(region.fd, region.mapLength, node),
      onEvent: (node, event) => this.onPeerEvent(node, event),
      onUp: (node) => {
        // With etcd its tombstones stay until it settles (its reclaims and holds come first).
        if (!this.options.membership.dynamic) this.forgetLost(node);
        if (!this.options.membership.dynamic || this.links.get(node) !== link) return;
        if (this.state === 'live') this.settleWith(link);
        else if (this.state === 'rejoining') this.driveRejoin();
      },
      onDown: (node) => {
        this.forgetPeerObjects(node);
        this.store.peerDown();
      },
      log: this.log,
    });
    this.links.set(member.name, link);
    link.connect();
  }

  /** A member left the view (its key went): its objects, claims, pins and settle state go. */
  private removeMember(name: string): void {
    this.links.get(name)?.close();
    this.links.delete(name);
    this.forgetPeerObjects(name);
    // Ids it held (claimed here as home, or recorded here as successor) stay reserved for it.
    const now = Date.now();
    for (const [key, record] of this.claims) {
      if (record.node !== name) continue;
      this.claims.delete(key);
      if (!this.lost.has(key)) this.lost.set(key, { node: name, since: now });
    }
    const holder = this.holders.get(name);
    if (holder) {
      this.store.expirePeer(holder);
      this.holders.delete(name);
    }
    this.settledBy.delete(name);
    this.rejoiningBy.delete(name);
    this.prunedAt.delete(name);
    this.sentRejoining.delete(name);
    this.log.info('member left the cluster', { peer: name });
  }

  /** Every member of this view has sent its holds for it. */
  private allSettled(view: bigint): boolean {
    for (const name of this.links.keys()) if (this.settledBy.get(name) !== view) return false;
    return true;
  }

  /** Every member but `except` has settled this view or rejoins in it. */
  private othersReady(view: bigint, except: string): boolean {
    for (const name of this.links.keys()) {
      if (name !== except && this.settledBy.get(name) !== view && this.rejoiningBy.get(name) !== view) return false;
    }
    return true;
  }

  /** Own ids homed here: in the claim table, under this node. */
  private holdLocally(): void {
    for (const key of this.held) {
      if (this.homeOf(key) !== this.self.name) continue;
      const owner = this.claims.get(key);
      if (owner && owner.node !== this.self.name) this.duplicate(key, owner.node, this.self.name);
      else this.claims.set(key, { node: this.self.name, mark: 0 });
    }
    for (const [key, record] of this.claims) {
      if (record.node === this.self.name && (!this.held.has(key) || this.homeOf(key) !== this.self.name)) this.claims.delete(key);
    }
  }

  /**
   * Tell a peer every id this node holds that the peer is home of (or successor of, where this node
   * is home), then that we settled this view.
   */
  private settleWith(link: PeerLink): void {
    const transport = link.peerTransport;
    if (!transport) return;
    for (const key of this.held) {
      const home = this.homeOf(key);
      if (home !== link.name && (home !== this.self.name || successorNodeOf(key, this.homeNames) !== link.name)) continue;
      void transport.hold(key).then((answer) => {
        if (answer === 'denied') this.counters.duplicateIds++;
      });
    }
    this.relayTombstones(link, transport);
    transport.settled(this.options.membership.viewId());
  }

  /**
   * Ids of departed members homed at this peer now (a member joined, or homes moved): it may never
   * have seen them, so they travel before the settle, and it grants none of them.
   */
  private relayTombstones(link: PeerLink, transport: PeerTransport): void {
    const now = Date.now();
    const byOwner = new Map<string, [string, number][]>();
    for (const [key, tomb] of this.lost) {
      if (now - tomb.since >= this.departedTtlMs || ownedBy(tomb, link.name) || this.homeOf(key) !== link.name) continue;
      const owner = ownerHash(tomb.node);
      let entries = byOwner.get(owner);
      if (!entries) byOwner.set(owner, (entries = []));
      entries.push([key, now - tomb.since]);
    }
    for (const [owner, entries] of byOwner) transport.tombstones(owner, entries);
  }

  /**
   * A peer settled the view this node is in: its records here that it did not assert again
   * since its last settle are stale (deleted meanwhile, or homed elsewhere now).
   */
  private pruneSettled(node: string): void {
    const view = this.options.membership.viewId();
    if (this.settledBy.get(node) !== view || this.prunedAt.get(node) === view) return;
    const mark = this.markOf.get(node) ?? 0;
    for (const [key, record] of this.claims) if (record.node === node && record.mark < mark) this.claims.delete(key);
    this.markOf.set(node, mark + 1);
    this.prunedAt.set(node, view);
  }

  /** Answer rejoining peers' reclaims (and this node's own, homed here) once the others are ready. */
  private evaluateDeferred(): void {
    if (!this.options.membership.dynamic) return;
    const view = this.options.membership.viewId();
    const registered = this.options.membership.live() && this.state !== 'fenced';
    const waiting = this.deferredReclaims;
    this.deferredReclaims = [];
    for (const entry of waiting) {
      if (!registered || this.rejoiningBy.get(entry.node) !== view || !this.links.has(entry.node)) {
        this.counters.claimsRetried++;
        entry.answer('retry');
        continue;
      }
      if (!this.othersReady(view, entry.node)) {
        this.deferredReclaims.push(entry);
        continue;
      }
      entry.answer(this.reclaimHere(entry.key, entry.node));
    }
    if (this.state === 'rejoining' && registered && this.othersReady(view, this.self.name)) {
      for (const key of [...this.toReclaim]) {
        if (this.homeOf(key) === this.self.name) this.reclaimed(key, this.reclaimHere(key, this.self.name));
      }
      this.maybeFinishRejoin();
    }
  }

  private reclaimHere(key: string, node: string): HomeAnswer {
    if (this.homeOf(key) !== this.self.name) return 'retry';
    const owner = this.claims.get(key);
    if ((owner !== undefined && owner.node !== node) || this.tombstoned(key, node)) return 'denied';
    this.claims.set(key, { node, mark: this.markOf.get(node) ?? 0 });
    const tomb = this.lost.get(key);
    if (tomb && ownedBy(tomb, node)) this.lost.delete(key);
    return 'granted';
  }

  /** Cut off from etcd: stop granting, claiming and sealing until registered again. */
  private onFenced(): void {
    this.state = 'fenced';
    this.epoch++;
    this.held.clear();
    // Grants made as home are void once others may have dropped this node; the table is rebuilt
    // from the holds peers send when they see this node registered again (they may arrive before
    // beginRejoin runs, so it is cleared here and not there).
    this.claims.clear();
    for (const entry of this.deferredReclaims.splice(0)) entry.answer('retry');
  }

  /**
   * Registered (again): re-claim every sealed object at its home in the new view before
   * announcing it; ids another node took meanwhile are dropped here.
   */
  private beginRejoin(): void {
    this.state = 'rejoining';
    this.epoch++;
    this.held.clear();
    // settledBy is kept: a peer may have settled the new view before this runs (views never repeat).
    this.sentRejoining.clear();
    this.reclaiming.clear();
    this.toReclaim = new Set([...this.store.ownedSealed()].map((object) => object.key));
    for (const key of this.toReclaim) this.hidden.add(key);
    this.applyView();
  }

  private driveRejoin(): void {
    if (this.state !== 'rejoining') return;
    const view = this.options.membership.viewId();
    for (const link of this.links.values()) {
      const transport = link.peerTransport;
      if (!transport) continue;
      if (this.sentRejoining.get(link.name) !== view) {
        transport.rejoining(view);
        this.sentRejoining.set(link.name, view);
      }
      for (const key of this.toReclaim) {
        if (this.reclaiming.get(key) === view || this.homeOf(key) !== link.name) continue;
        this.reclaiming.set(key, view);
        void transport.reclaim(key, RECLAIM_TIMEOUT_MS).then((answer) => {
          if (this.reclaiming.get(key) !== view) return;
          this.reclaiming.delete(key);
          if (this.state !== 'rejoining' || view !== this.options.membership.viewId()) return;
          if (answer === 'granted' || answer === 'denied') this.reclaimed(key, answer);
          else this.retryRejoin();
          this.maybeFinishRejoin();
        });
      }
    }
    this.evaluateDeferred();
  }

  private retryRejoin(): void {
    if (this.rejoinTimer) return;
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = null;
      // Ask again in the current view (answers of an older one were dropped).
      this.sentRejoining.clear();
      this.reclaiming.clear();
      this.driveRejoin();
    }, REJOIN_RETRY_MS);
  }

  private reclaimed(key: string, answer: HomeAnswer): void {
    if (answer !== 'granted' && answer !== 'denied') return;
    if (!this.toReclaim.delete(key)) return;
    if (answer === 'granted') {
      this.held.add(key);
      this.counters.reclaimed++;
      return;
    }
    this.counters.reclaimLost++;
    this.counters.duplicateIds++;
    this.store.dropDuplicate(key);
  }

  private maybeFinishRejoin(): void {
    if (this.state !== 'rejoining' || this.toReclaim.size > 0) return;
    this.state = 'live';
    if (this.counters.reclaimLost > 0 || this.hidden.size > 0) {
      this.log.info('rejoined the cluster', { reclaimed: this.counters.reclaimed, droppedDuplicates: this.counters.reclaimLost });
    }
    this.holdLocally();
    for (const link of this.links.values()) this.settleWith(link);
    // Announce what survived the re-claims.
    const announce = [...this.store.ownedSealed()].filter((object) => this.hidden.has(object.key) && this.held.has(object.key));
    this.hidden.clear();
    for (const object of announce) this.announceSealed(object.key, object.dataSize, object.metadataSize);
    this.evaluateDeferred();
  }

  /** Resolves once this node is live (or after `ms`: it keeps trying, creates fail meanwhile). */
  private async untilLive(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.state !== 'live' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.state !== 'live') this.log.warn('not a live member yet: creates are refused until every member has settled', { state: this.state });
  }

  /** Membership state and counters, for status and metrics. */
  health(): ClusterHealth {
    const membership = this.options.membership;
    return {
      dynamic: membership.dynamic,
      state: this.state,
      live: this.state === 'live' && membership.live(),
      revision: membership.revision(),
      viewId: membership.viewId().toString(16),
      members: this.links.size + 1,
      fencedMs: membership.fencedMs?.() ?? 0,
      fences: membership.fences ?? 0,
      ...this.counters,
    };
  }

  private transportTo(link: PeerLink): PeerTransport {
    const transport = link.peerTransport;
    if (!transport) throw new Error(`peer ${link.name} is not connected`);
    return transport;
  }

  private liveLink(node: string): PeerLink {
    const link = this.links.get(node);
    if (!link?.connected) throw new Error(`peer ${node} is not connected`);
    return link;
  }

  private holderFor(node: string): PeerHolder {
    let holder = this.holders.get(node);
    if (!holder) {
      holder = new PeerHolder(node);
      this.holders.set(node, holder);
    }
    holder.expiresAt = Date.now() + this.leaseMs;
    return holder;
  }

  private onPeerEvent(node: string, event: ObjectEvent): void {
    const key = event.id.toString('hex');
    const tomb = this.lost.get(key);
    if (tomb && ownedBy(tomb, node)) this.lost.delete(key);
    if (event.kind === 'SEALED') {
      this.directory.set(key, node);
      if (this.homeOf(key) === this.self.name) this.relearnClaim(key, node);
      this.store.remoteSealed(key);
    } else if (this.directory.get(key) === node) {
      this.directory.delete(key);
    }
  }

  /**
   * As home node, learn claims from the owners' event streams (which start with every sealed
   * object): a home that restarted with an empty claim table rebuilds it as its peers reconnect.
   */
  private relearnClaim(key: string, node: string): void {
    if (this.options.membership.dynamic) return; // holds carry this (settleWith)
    const claimed = this.claims.get(key)?.node;
    if (claimed === undefined) {
      this.claims.set(key, { node, mark: 0 });
      this.holderFor(node);
    } else if (claimed !== node) {
      // Only possible if claims were lost (home restarted, or a lease expired while the owner was
      // cut off) and both sides sealed meanwhile: say so, the id is no longer unique.
      this.log.error('two nodes hold a sealed object of one id', { object: key, claimedBy: claimed, alsoSealedBy: node });
    }
  }

  /** The peer went down: its objects are gone from the directory, remembered as lost. */
  private forgetPeerObjects(node: string): void {
    const now = Date.now();
    for (const [key, owner] of this.directory) {
      if (owner !== node) continue;
      this.directory.delete(key);
      if (!this.lost.has(key)) this.lost.set(key, { node, since: now });
    }
  }

  /** The peer is back: what it has now comes through its event stream again. */
  private forgetLost(node: string): void {
    for (const [key, tomb] of this.lost) if (ownedBy(tomb, node)) this.lost.delete(key);
  }

  private broadcast(event: ObjectEvent): void {
    for (const push of this.eventSubscribers) push(event);
  }

  private flushUnpins(): void {
    this.unpinFlush = null;
    for (const [node, keys] of this.pendingUnpins) {
      if (keys.size === 0) continue;
      // If this is lost the owner's lease on these pins runs out instead (see renewLeases).
      this.links.get(node)?.peerTransport?.unpin(keys);
    }
    this.pendingUnpins.clear();
  }

  private renewLeases(): void {
    for (const link of this.links.values()) {
      if (!link.connected) continue;
      link.client.renew({ holder: this.self.name }, link.deadline(), () => undefined);
    }
  }

  /** A peer that stopped renewing (dead, cut off) loses its pins and claims here. */
  private expireLeases(): void {
    const now = Date.now();
    for (const [node, holder] of this.holders) {
      if (holder.expiresAt > now) continue;
      if (holder.keys.size > 0) this.log.warn('lease expired: releasing pins of a silent peer', { peer: node, pins: holder.keys.size });
      this.store.expirePeer(holder);
      // With etcd, claims go with the member's registration (removeMember), not with this lease.
      if (!this.options.membership.dynamic) for (const [key, owner] of this.claims) if (owner.node === node) this.claims.delete(key);
      this.holders.delete(node);
    }
  }

  private every(ms: number, task: () => void): void {
    const timer = setInterval(task, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private serverCredentials(): grpc.ServerCredentials {
    const tls = this.options.tls;
    if (!tls) return grpc.ServerCredentials.createInsecure();
    return grpc.ServerCredentials.createSsl(
      fs.readFileSync(tls.ca),
      [{ cert_chain: fs.readFileSync(tls.cert), private_key: fs.readFileSync(tls.key) }],
      true, // peers must present a certificate of the cluster CA
    );
  }

  private handlers(): grpc.UntypedServiceImplementation {
    type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;
    const hello: Unary<NodeIdentity, NodeIdentity> = (call, callback) => {
      this.holderFor(call.request.node);
      if (this.dataServer && call.metadata.get(PEER_CHANNEL_HEADER)[0] === '1') {
        const reply = new grpc.Metadata();
        reply.set(DATA_PORT_HEADER, String(this.dataPort));
        reply.set(CHANNEL_TOKEN_HEADER, this.channelTokenFor(call.request.node));
        call.sendMetadata(reply);
      }
      callback(null, this.identity);
    };
    // Per-caller calls: adapters onto the same handler the peer channel uses.
    const lookup: Unary<LookupRequest, object> = (call, callback) => {
      const locations = this.handlerFor(call.request.holder).lookup(call.request.ids.map((id) => id.toString('hex')));
      callback(null, {
        leaseMs: this.leaseMs,
        objects: call.request.ids.map((id, i) => {
          const object = locations[i];
          return object
            ? { id, found: true, offset: object.offset, dataSize: object.dataSize, metadataSize: object.metadataSize, digest: Buffer.from(object.digest) }
            : { id, found: false };
        }),
      });
    };
    const unpin: Unary<PinRequest, object> = (call, callback) => {
      this.handlerFor(call.request.holder).unpin(call.request.ids.map((id) => id.toString('hex')));
      callback(null, {});
    };
    const renew: Unary<{ holder: string }, object> = (call, callback) => {
      const holder = this.holderFor(call.request.holder);
      callback(null, { leaseMs: this.leaseMs, pins: holder.keys.size });
    };
    const claim: Unary<ClaimRequest, ClaimReply> = (call, callback) => {
      const key = call.request.id.toString('hex');
      // gRPC claims carry no settled view: with etcd the answer is retry (claims need the channel).
      const answer = this.handlerFor(call.request.node).claim(key);
      callback(null, { granted: answer === 'granted', owner: this.claims.get(key)?.node ?? '', retry: answer === 'retry' });
    };
    const unclaim: Unary<ClaimRequest, object> = (call, callback) => {
      this.handlerFor(call.request.node).unclaim(call.request.id.toString('hex'));
      callback(null, {});
    };
    const status: Unary<object, StatusReply> = (_call, callback) => {
      const stats = this.store.stats();
      callback(null, {
        node: this.self.name,
        capacity: stats.capacity,
        allocated: stats.allocated,
        objects: stats.objects,
        clients: stats.clients,
        peers: this.peerStates(),
        membership: this.health(),
      });
    };
    const events = (call: grpc.ServerWritableStream<{ node: string }, ObjectEvent>) => {
      const unsubscribe = this.handlerFor(call.request.node).subscribe((event) => call.write(event));
      this.eventCalls.add(call);
      const drop = () => {
        unsubscribe();
        this.eventCalls.delete(call);
      };
      call.on('cancelled', drop);
      call.on('close', drop);
      call.on('error', drop);
    };
    const fetch = (call: grpc.ServerWritableStream<{ holder: string; id: Buffer }, FetchChunk>) => {
      const holder = this.holderFor(call.request.holder);
      void serveFetch(call, this.store.readForPeer(holder, call.request.id.toString('hex')), {
        hash: this.hash,
        chunkBytes: this.chunkBytes,
        dataServer: this.dataServer,
        dataPort: this.dataPort,
      });
    };
    return { hello, lookup, unpin, renew, claim, unclaim, status, events, fetch } as unknown as grpc.UntypedServiceImplementation;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    if (this.rejoinTimer) clearTimeout(this.rejoinTimer);
    // Leave the membership first: peers drop this node as soon as its key goes.
    await this.options.membership.close().catch(() => undefined);
    for (const call of this.eventCalls) call.end();
    this.eventCalls.clear();
    this.eventSubscribers.clear();
    for (const link of this.links.values()) link.close();
    // Peers' event streams never end on their own: do not wait for them.
    this.dataServer?.close();
    this.server.forceShutdown();
  }
}

