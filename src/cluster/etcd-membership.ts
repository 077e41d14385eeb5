/**
 * Membership on etcd. A store registers `PREFIX/members/NAME` = its MemberRecord (JSON) under a
 * lease it keeps alive, and learns the view (every registered member) from a watch on
 * `PREFIX/members/`. A name registered by a live store is refused.
 *
 * Liveness (fencing, docs/cluster.md): the node counts itself a member only until
 * (send time of the last acknowledged keep-alive) + TTL − margin. etcd cannot expire the lease
 * before (its receipt of that keep-alive) + TTL, which is later, so by the time other members
 * learn that this node left, it has stopped acting as a member. Once fenced it keeps trying to
 * register again under a new lease; it never reuses the old registration.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { ExponentialBackoff, handleAll, noop, retry } from 'cockatiel';
import { Etcd3, type IOptions, type Watcher } from 'etcd3';
import type { Logger } from '../util/log.js';
import type { MemberAddress, MemberRecord, Membership } from './membership.js';

export interface EtcdOptions {
  /** etcd client URLs (http://host:port or https://host:port). */
  endpoints: string[];
  /** Key prefix of this cluster (default /plasmapool). */
  prefix?: string;
  /** Lease TTL in seconds (default 3; etcd refuses less than about 2). */
  ttlSeconds?: number;
  /** TLS to etcd: CA, and a client certificate and key if etcd asks for one. */
  tls?: { ca: string; cert?: string; key?: string };
}

/** Below this, etcd's own leader election rounds (about 1 s) would expire leases. */
export const MIN_TTL_SECONDS = 2;
/** Deadline of one etcd call. */
const CALL_TIMEOUT_MS = 1000;
const REJOIN_RETRY_MS = 300;

interface View {
  peers: MemberAddress[];
  id: bigint;
  revision: number;
  records: Map<string, MemberRecord>;
}

/** A registration's value; throws when it is not JSON or has no host:port address. */
function memberRecordOf(value: string): MemberRecord {
  const record = JSON.parse(value) as MemberRecord;
  if (typeof record.address !== 'string' || !/:\d+$/.test(record.address)) throw new Error('no address');
  return record;
}

/** An etcd client with our deadlines and no circuit breaker (see the comment inside). */
function newEtcdClient(options: EtcdOptions): Etcd3 {
  const tls = options.tls;
  const hosts = options.endpoints.map((url) => url.replace(/\/$/, ''));
  const etcdOptions: IOptions = {
    hosts,
    dialTimeout: CALL_TIMEOUT_MS,
    grpcOptions: { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1000 },
    // No circuit breaker: it would keep us away from a restarted etcd for seconds. Each call
    // has its own deadline; with several endpoints a failed call moves to the next one.
    faultHandling: {
      host: () => noop,
      global: hosts.length > 1 ? retry(handleAll, { maxAttempts: hosts.length - 1 }) : noop,
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next(),
    },
  };
  if (tls) {
    etcdOptions.credentials = {
      rootCertificate: fs.readFileSync(tls.ca),
      ...(tls.cert && tls.key ? { certChain: fs.readFileSync(tls.cert), privateKey: fs.readFileSync(tls.key) } : {}),
    };
  }
  return new Etcd3(etcdOptions);
}

/**
 * The members registered in etcd right now, read once without a lease (for `cluster status` and
 * `cluster ls`); throws naming etcd and the prefix when it cannot be read.
 */
export async function readEtcdMembers(options: EtcdOptions): Promise<MemberRecord[]> {
  const prefix = `${(options.prefix ?? '/plasmapool').replace(/\/+$/, '')}/members/`;
  const client = newEtcdClient(options);
  try {
    const values = await client.getAll().prefix(prefix).options({ deadline: Date.now() + 2 * CALL_TIMEOUT_MS }).strings();
    const records: MemberRecord[] = [];
    for (const [key, value] of Object.entries(values)) {
      try {
        records.push({ ...memberRecordOf(value), name: key.slice(prefix.length) });
      } catch {
        // A malformed registration: the stores log it; a listing just leaves it out.
      }
    }
    return records.sort((x, y) => x.name.localeCompare(y.name));
  } catch (error) {
    throw new Error(`cannot read the members under ${prefix} from etcd at ${options.endpoints.join(',')}: ${(error as Error).message}`);
  } finally {
    client.close();
  }
}

export class EtcdMembership implements Membership {
  readonly dynamic = true;
  private readonly client: Etcd3;
  private readonly prefix: string;
  private readonly ttlSeconds: number;
  private readonly marginMs: number;
  private readonly changeListeners: (() => void)[] = [];
  private readonly livenessListeners: ((live: boolean) => void)[] = [];
  private view: View = { peers: [], id: 0n, revision: 0, records: new Map() };
  private record: MemberRecord | null = null;
  private leaseId: string | null = null;
  /** performance.now() until which this node is certainly registered. */
  private liveUntil = 0;
  private fenced = false;
  private watcher: Watcher | null = null;
  private keepAliveTimer: NodeJS.Timeout | null = null;
  private fenceTimer: NodeJS.Timeout | null = null;
  private rejoinTimer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  /** The etcd revision of the last read of the view. */
  private lastRead = 0;
  private rereadTimer: NodeJS.Timeout | null = null;
  private refreshAgain = false;
  private closed = false;
  /** Total milliseconds spent fenced, and since when (performance.now()) if fenced now. */
  private fencedTotalMs = 0;
  private fencedSince = 0;
  fences = 0;

  constructor(
    readonly self: MemberAddress,
    options: EtcdOptions,
    private readonly log: Logger,
  ) {
    if (!/^[A-Za-z0-9_.-]+$/.test(self.name)) {
      throw new Error(`node name "${self.name}" cannot be an etcd key part: use letters, digits, "_", "." and "-" (--node-name)`);
    }
    if (options.endpoints.length === 0) throw new Error('--etcd needs at least one URL, e.g. --etcd http://127.0.0.1:2379');
    for (const url of options.endpoints) {
      if (!/^https?:\/\/[^/\s]+:\d+\/?$/.test(url)) throw new Error(`invalid --etcd URL "${url}": use http://HOST:PORT or https://HOST:PORT`);
    }
    this.prefix = (options.prefix ?? '/plasmapool').replace(/\/+$/, '');
    this.ttlSeconds = options.ttlSeconds ?? 3;
    if (!Number.isInteger(this.ttlSeconds) || this.ttlSeconds < MIN_TTL_SECONDS) {
      throw new Error(`--etcd-ttl must be a whole number of seconds, at least ${MIN_TTL_SECONDS} (etcd expires shorter leases during its own elections); got ${options.ttlSeconds}`);
    }
    // Covers clock rate differences and a late timer; the check itself is made on the spot.
    this.marginMs = Math.min(1000, 100 + this.ttlSeconds * 100);
    this.client = newEtcdClient(options);
  }

  get memberKeyPrefix(): string {
    return `${this.prefix}/members/`;
  }

  private get ownKey(): string {
    return `${this.memberKeyPrefix}${this.self.name}`;
  }

  peers(): readonly MemberAddress[] {
    return this.view.peers;
  }

  viewId(): bigint {
    return this.view.id;
  }

  revision(): number {
    return this.view.revision;
  }

  /** The registration of a member of the current view. */
  recordOf(name: string): MemberRecord | undefined {
    return this.view.records.get(name);
  }

  onChange(listener: () => void): void {
    this.changeListeners.push(listener);
  }

  onLiveness(listener: (live: boolean) => void): void {
    this.livenessListeners.push(listener);
  }

  live(): boolean {
    return this.leaseId !== null && !this.fenced && performance.now() < this.liveUntil;
  }

  /** Milliseconds spent fenced since start (including now, if fenced). */
  fencedMs(): number {
    return Math.round(this.fencedTotalMs + (this.fenced ? performance.now() - this.fencedSince : 0));
  }

  async join(record: MemberRecord): Promise<void> {
    this.record = record;
    try {
      await this.register();
      await this.refresh();
    } catch (error) {
      await this.revokeLease();
      throw new Error(`cannot join the cluster through etcd (${this.memberKeyPrefix}): ${(error as Error).message}`);
    }
    // From just after the first read: a member that registered in between is not missed.
    this.watcher = await this.client
      .watch()
      .prefix(this.memberKeyPrefix)
      .startRevision(String(this.lastRead + 1))
      .create();
    this.watcher.on('data', () => void this.refresh().catch(() => undefined));
    // After a reconnect the watch resumes where it stopped; read the whole view anyway.
    this.watcher.on('connected', () => void this.refresh().catch(() => undefined));
    this.watcher.on('error', (error) => this.log.warn('etcd watch failed; retrying', { error: error.message }));
    this.scheduleKeepAlive();
    // A safety net under the watch: read the whole view again once per TTL.
    this.rereadTimer = setInterval(() => void this.refresh().catch(() => undefined), this.ttlSeconds * 1000);
    this.rereadTimer.unref();
  }

  // ------------------------------------------------------------ registration and lease

  /** Grant a lease and create our key under it, unless a live store holds the name. */
  private async register(): Promise<void> {
    const sentAt = performance.now();
    const grant = await this.client.leaseClient.leaseGrant({ TTL: this.ttlSeconds }, this.deadline());
    this.leaseId = grant.ID;
    const key = Buffer.from(this.ownKey);
    const put = { request_put: { key, value: Buffer.from(JSON.stringify(this.record)), lease: grant.ID } };
    const txn = await this.client.kv.txn(
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [put],
        failure: [{ request_range: { key } }],
      },
      this.deadline(),
    );
    if (!txn.succeeded) {
      const existing = txn.responses[0]?.response_range?.kvs[0];
      let address = 'unknown';
      try {
        address = (JSON.parse(existing?.value.toString() ?? '{}') as { address?: string }).address ?? address;
      } catch {
        // a foreign value: say so through the address
      }
      await this.revokeLease();
      throw new Error(
        `node name "${this.self.name}" is already registered at ${this.ownKey} by a live store (address ${address}): ` +
          'choose another --node-name, or stop that store (its registration goes when its lease expires)',
      );
    }
    this.liveUntil = sentAt + Number(grant.TTL) * 1000 - this.marginMs;
    this.armFence();
  }

  private deadline(): { deadline: number } {
    return { deadline: Date.now() + CALL_TIMEOUT_MS };
  }

  private scheduleKeepAlive(): void {
    if (this.closed) return;
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    // Four keep-alives per TTL: one or two may be lost before the node fences itself.
    this.keepAliveTimer = setTimeout(() => void this.keepAlive(), (this.ttlSeconds * 1000) / 4);
  }

  private async keepAlive(): Promise<void> {
    const leaseId = this.leaseId;
    if (this.closed || leaseId === null || this.fenced) return;
    const sentAt = performance.now();
    try {
      const ttl = await this.keepAliveOnce(leaseId);
      if (this.leaseId !== leaseId || this.fenced) return;
      if (ttl <= 0) {
        this.fence('etcd says our lease expired');
        return;
      }
      this.liveUntil = Math.max(this.liveUntil, sentAt + ttl * 1000 - this.marginMs);
      this.armFence();
    } catch (error) {
      this.log.debug('etcd keep-alive failed', { error: (error as Error).message });
    } finally {
      // A keep-alive of a lease replaced meanwhile does not start a second loop.
      if (!this.fenced && this.leaseId === leaseId) this.scheduleKeepAlive();
    }
  }

  private async keepAliveOnce(id: string): Promise<number> {
    const stream = await this.client.leaseClient.leaseKeepAlive(this.deadline());
    return new Promise<number>((resolve, reject) => {
      stream.on('data', (reply: { TTL: string }) => {
        resolve(Number(reply.TTL));
        stream.end();
      });
      stream.on('error', reject);
      stream.on('end', () => reject(new Error('keep-alive stream ended')));
      stream.write({ ID: id });
    });
  }

  /** Fence exactly when liveness runs out, even if no keep-alive call returns. */
  private armFence(): void {
    if (this.fenceTimer) clearTimeout(this.fenceTimer);
    this.fenceTimer = setTimeout(() => {
      this.fenceTimer = null;
      if (!this.live() && !this.fenced) this.fence(`no keep-alive acknowledged by etcd for ${this.ttlSeconds} s − margin`);
      else if (!this.fenced) this.armFence();
    }, Math.max(1, this.liveUntil - performance.now()));
    this.fenceTimer.unref();
  }

  private fence(reason: string): void {
    if (this.fenced || this.closed) return;
    this.fenced = true;
    this.fences++;
    this.fencedSince = performance.now();
    this.log.error('cut off from etcd: this node is fenced (no claims, no creates) until it registers again', { reason, node: this.self.name });
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer);
    for (const listener of this.livenessListeners) listener(false);
    this.scheduleRejoin(0);
  }

  private scheduleRejoin(delayMs: number): void {
    if (this.closed || this.rejoinTimer) return;
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = null;
      void this.rejoin();
    }, delayMs);
  }

  /** A new lease and a new registration; the old one is revoked (or has expired). */
  private async rejoin(): Promise<void> {
    if (this.closed) return;
    try {
      await this.revokeLease();
      await this.register();
      await this.refresh();
    } catch (error) {
      this.log.warn('cannot register with etcd yet; retrying', { error: (error as Error).message });
      this.leaseId = null;
      this.scheduleRejoin(REJOIN_RETRY_MS);
      return;
    }
    this.fenced = false;
    this.fencedTotalMs += performance.now() - this.fencedSince;
    this.log.info('registered with etcd again: rejoining the cluster', { node: this.self.name, revision: this.view.revision });
    for (const listener of this.livenessListeners) listener(true);
    this.scheduleKeepAlive();
  }

  private async revokeLease(): Promise<void> {
    const id = this.leaseId;
    this.leaseId = null;
    if (id === null) return;
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id }, this.deadline());
    } catch {
      // Unreachable or already expired: it expires on its own.
    }
  }

  // ------------------------------------------------------------ the view

  /** Read every registration; one read at a time, and again if asked meanwhile. */
  private refresh(): Promise<void> {
    if (this.refreshing) {
      this.refreshAgain = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.refreshAgain = false;
        try {
          await this.readView();
        } catch (error) {
          this.log.warn('cannot read the membership from etcd', { error: (error as Error).message });
          throw error;
        }
      } while (this.refreshAgain && !this.closed);
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async readView(): Promise<void> {
    const start = Buffer.from(this.memberKeyPrefix);
    const end = Buffer.from(start);
    end[end.length - 1]!++;
    const reply = await this.client.kv.range({ key: start, range_end: end }, this.deadline());
    this.lastRead = Math.max(this.lastRead, Number(reply.header.revision));
    const records = new Map<string, MemberRecord>();
    const incarnations = new Map<string, string>();
    const tags: string[] = [];
    let selfSeen = false;
    for (const kv of reply.kvs) {
      const name = kv.key.toString().slice(this.memberKeyPrefix.length);
      let record: MemberRecord;
      try {
        record = memberRecordOf(kv.value.toString());
      } catch (error) {
        this.log.warn('ignoring a malformed registration in etcd', { key: kv.key.toString(), error: (error as Error).message });
        continue;
      }
      tags.push(`${name}@${kv.create_revision}`);
      if (name === this.self.name) {
        selfSeen = kv.lease === this.leaseId;
        continue;
      }
      records.set(name, { ...record, name });
      incarnations.set(name, String(kv.create_revision));
    }
    if (this.fenced && this.leaseId === null) return;
    tags.sort();
    const id = BigInt(`0x${crypto.createHash('sha1').update(tags.join(',')).digest('hex').slice(0, 16)}`);
    const revision = Number(reply.header.revision);
    if (!selfSeen && !this.fenced && this.leaseId !== null) {
      // Our key is gone (deleted, or the lease expired without our noticing): not a member.
      this.fence('our registration is no longer in etcd');
      return;
    }
    if (id === this.view.id) {
      this.view.revision = revision;
      return;
    }
    const peers = [...records.values()]
      .map((r) => ({ name: r.name, address: r.address, socketPath: r.socketPath, incarnation: incarnations.get(r.name) }))
      .sort((a, b) => a.name.localeCompare(b.name));
    this.view = { peers, id, revision, records };
    this.log.info('membership changed', { revision, members: [this.self.name, ...peers.map((p) => p.name)].sort() });
    for (const listener of this.changeListeners) listener();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of [this.keepAliveTimer, this.fenceTimer, this.rejoinTimer]) if (timer) clearTimeout(timer);
    if (this.rereadTimer) clearInterval(this.rereadTimer);
    // etcd may be gone: never let it hold up a shutdown.
    const giveUp = new Promise((resolve) => setTimeout(resolve, CALL_TIMEOUT_MS).unref());
    await Promise.race([this.watcher?.cancel().catch(() => undefined), giveUp]);
    // Leave at once rather than after the TTL: peers drop us as soon as the key goes.
    await this.revokeLease();
    this.client.close();
  }
}
