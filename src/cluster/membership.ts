/**
 * Who is in the cluster. Two implementations behind one interface: the static list
 * (`--peer NAME=HOST:PORT` flags or a cluster file, never changes) and etcd (etcd-membership.ts:
 * members register under a lease and learn each other from a watch).
 */
import fs from 'node:fs';

export interface MemberAddress {
  readonly name: string;
  /** gRPC address, host:port. */
  readonly address: string;
  /** The store's Unix socket, where the cluster file says (local clusters do): for `cluster ls`. */
  readonly socketPath?: string;
  /** Which registration of this name (etcd: its create revision): a new one is a new member. */
  readonly incarnation?: string;
}

/** What a store registers about itself (etcd): enough for a peer to connect and choose a transport. */
export interface MemberRecord {
  name: string;
  /** gRPC address peers use (host:port). */
  address: string;
  regionPath: string;
  regionUuid: string;
  mapLength: number;
  /** Transports this store offers: 'shared' (its region can be mapped by path) and 'copy'. */
  transports: string[];
  socketPath: string;
}

export interface Membership {
  readonly self: MemberAddress;
  /** Members come and go (etcd); a static membership never changes and is never fenced. */
  readonly dynamic: boolean;
  /** Every other member of the current view, in a stable order. */
  peers(): readonly MemberAddress[];
  /**
   * Identity of the current view: equal on two nodes exactly when they see the same members
   * (the same registrations). 0n for a static membership.
   */
  viewId(): bigint;
  /** The etcd revision the current view was read at (0 for a static membership). */
  revision(): number;
  /** Called after the view changed (never, for the static membership). */
  onChange(listener: () => void): void;
  /**
   * Called when this node stops being certainly a member (fenced: its lease may have expired)
   * and when it is a member again under a new registration (rejoined).
   */
  onLiveness(listener: (live: boolean) => void): void;
  /** Register this node (etcd) and start following the view; resolves once the first view is known. */
  join(record: MemberRecord): Promise<void>;
  /** This node's registration is certainly valid now (always true for a static membership). */
  live(): boolean;
  /** Milliseconds spent fenced so far, and how many times (dynamic memberships). */
  fencedMs?(): number;
  readonly fences?: number;
  close(): Promise<void>;
}

export class StaticMembership implements Membership {
  readonly dynamic = false;
  private readonly others: MemberAddress[];

  constructor(
    readonly self: MemberAddress,
    peers: readonly MemberAddress[],
  ) {
    const names = new Set([self.name]);
    for (const peer of peers) {
      if (names.has(peer.name)) throw new Error(`node name "${peer.name}" appears twice in the cluster: names must be unique`);
      names.add(peer.name);
    }
    this.others = [...peers].sort((a, b) => a.name.localeCompare(b.name));
  }

  peers(): readonly MemberAddress[] {
    return this.others;
  }

  viewId(): bigint {
    return 0n;
  }

  revision(): number {
    return 0;
  }

  onChange(): void {
    // Static: nothing ever changes.
  }

  onLiveness(): void {
    // Static: never fenced.
  }

  async join(): Promise<void> {
    // Static: the list is the membership.
  }

  live(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}

/** `NAME=HOST:PORT` → member; throws naming the expected form. */
export function parsePeerFlag(text: string): MemberAddress {
  const match = /^([A-Za-z0-9_.-]+)=([^=\s]+:\d+)$/.exec(text);
  if (!match) throw new Error(`invalid --peer "${text}": use NAME=HOST:PORT, e.g. --peer node-b=127.0.0.1:7001`);
  return { name: match[1]!, address: match[2]! };
}

/** The cluster file: `{ "nodes": [{ "name": "a", "address": "127.0.0.1:7000" }, …] }`. */
export function readClusterFile(file: string): MemberAddress[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read cluster file ${file}: ${(error as Error).message}`);
  }
  const nodes = (parsed as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) throw new Error(`cluster file ${file} must hold {"nodes": [{"name": …, "address": "host:port"}]}`);
  return nodes.map((node, i) => {
    const { name, address, socketPath } = node as { name?: unknown; address?: unknown; socketPath?: unknown };
    if (typeof name !== 'string' || typeof address !== 'string' || !/:\d+$/.test(address)) {
      throw new Error(`cluster file ${file}: node ${i} needs a "name" and an "address" of the form host:port`);
    }
    return typeof socketPath === 'string' ? { name, address, socketPath } : { name, address };
  });
}
