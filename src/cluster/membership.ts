/**
 * Who is in the cluster. The static implementation reads `--peer NAME=HOST:PORT` flags or a
 * cluster file; the interface is small so that an etcd-backed one can replace it later.
 */
import fs from 'node:fs';

export interface MemberAddress {
  readonly name: string;
  /** gRPC address, host:port. */
  readonly address: string;
  /** The store's Unix socket, where the cluster file says (local clusters do): for `cluster ls`. */
  readonly socketPath?: string;
}

export interface Membership {
  readonly self: MemberAddress;
  /** Every other member, in a stable order. */
  peers(): readonly MemberAddress[];
  /** Called when members join or leave (never, for the static membership). */
  onChange(listener: () => void): void;
}

export class StaticMembership implements Membership {
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

  onChange(): void {
    // Static: nothing ever changes.
  }
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
