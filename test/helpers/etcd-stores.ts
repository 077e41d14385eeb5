/**
 * Stores on a real etcd for tests (test/cluster/etcd-membership.test.ts, partition-fencing.test.ts):
 * real store processes registered with `--etcd`, their status, and the TypeScript client.
 */
import path from 'node:path';
import { connect, type PlasmaClient } from '../../src/client/plasma-client.js';
import { createSecretFile, readSecretFile } from '../../src/cluster/peer-auth.js';
import { queryStatus } from '../../src/cluster/status-client.js';
import type { StatusReply } from '../../src/cluster/peer-service.js';
import type { ObjectId } from '../../src/protocol/object-id.js';
import { onCleanup, startStoreProcess, tempDir, type StoreProcess } from './processes.js';

// Short enough for quick fencing tests, long enough that a store starved on a loaded machine
// rarely fences itself by accident (it would then rejoin by itself).
export const TTL = 3;

export interface Node {
  name: string;
  store: StoreProcess;
  address: string;
}

export function secretFile(): string {
  const file = path.join(tempDir('pp-secret-'), 'cluster.secret');
  createSecretFile(file);
  return file;
}

export async function startNode(etcd: { url: string }, name: string, secret: string, extra: string[] = [], ttl = TTL): Promise<Node> {
  const store = await startStoreProcess('64MiB', [
    '--node-name', name,
    '--listen', '127.0.0.1:0',
    '--etcd', etcd.url,
    '--etcd-ttl', String(ttl),
    '--secret-file', secret,
    '--lease-ms', '3000',
    '--log-level', 'info',
    ...extra,
  ]);
  const address = /grpc (\S+?)(,|\s|$)/.exec(store.stdout())![1]!;
  return { name, store, address };
}

export function status(node: Node, secret: string): Promise<StatusReply> {
  return queryStatus(node.address, { secret: readSecretFile(secret) });
}

export async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll until `check` holds (it throws or returns false while not yet). */
export async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}`);
    await sleep(100);
  }
}

/** Every node is live, sees exactly these members, and is connected to every other. */
export async function waitMembers(nodes: Node[], secret: string): Promise<void> {
  const names = nodes.map((n) => n.name).sort();
  await eventually(`members ${names.join(',')}`, async () => {
    const replies = await Promise.all(nodes.map((n) => status(n, secret)));
    const ok = replies.every(
      (r) =>
        r.membership?.live === true &&
        r.membership.members === nodes.length &&
        r.peers.map((p) => p.node).sort().join(',') === names.filter((n) => n !== r.node).join(',') &&
        r.peers.every((p) => p.connected),
    );
    if (ok) return true;
    const seen = replies.map((r) => `${r.node}: ${r.membership?.state} members ${r.membership?.members} view ${r.membership?.viewId} peers ${r.peers.map((p) => `${p.node}${p.connected ? '' : '(down)'}`).join(' ')}`);
    throw new Error(seen.join('; '));
  });
}

export async function client(node: Node): Promise<PlasmaClient> {
  const c = await connect(node.store.socketPath);
  onCleanup(() => c.close());
  return c;
}

export function bytes(seed: number, size = 4096): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + seed) & 0xff);
}

export async function put(c: PlasmaClient, id: ObjectId, seed: number): Promise<void> {
  await c.createAndSeal(id, bytes(seed));
}

export async function read(c: PlasmaClient, id: ObjectId, timeoutMs = 2000): Promise<Uint8Array | null> {
  const buffer = await c.getOne(id, { timeoutMs });
  if (!buffer) return null;
  const copy = Uint8Array.from(buffer.data);
  buffer.release();
  return copy;
}

/** Retry a create until it works (the membership may be settling); the last error otherwise. */
export async function putEventually(c: PlasmaClient, id: ObjectId, seed: number): Promise<void> {
  await eventually(`create of ${id.hex}`, async () => {
    await put(c, id, seed);
    return true;
  });
}

