// Fencing across a cut (docs/cluster.md, "Ids: one id, one object" and "Fencing and membership
// changes"): real etcd, real store processes on loopback, the TypeScript client. A store stopped
// with SIGSTOP past its etcd TTL is the cut: the others drop it from the view while it still holds
// its objects.
import { describe, expect, it } from 'vitest';
import type { PlasmaClient } from '../../src/client/plasma-client.js';
import { PlasmaObjectExistsError } from '../../src/client/errors.js';
import { homeNodeOf, successorNodeOf } from '../../src/cluster/home-node.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { etcdInstalled, startEtcd, type Etcd } from '../helpers/etcd.js';
import { bytes, client, putEventually, read, secretFile, startNode as startEtcdNode, status, waitMembers, type Node } from '../helpers/etcd-stores.js';
import { onCleanup } from '../helpers/processes.js';

/** A store on etcd that a failed test never leaves stopped. */
async function startNode(etcd: Etcd, name: string, secret: string): Promise<Node> {
  const node = await startEtcdNode(etcd, name, secret);
  onCleanup(() => void node.store.child.kill('SIGCONT'));
  return node;
}

/** The create's outcome: 'sealed', 'exists' (ObjectExists: refused), or the other error. */
async function tryPut(c: PlasmaClient, id: ObjectId, seed: number): Promise<string> {
  try {
    await c.createAndSeal(id, bytes(seed));
    return 'sealed';
  } catch (error) {
    if (error instanceof PlasmaObjectExistsError) return 'exists';
    return (error as Error).message;
  }
}

/** Fresh ids whose home (and successor) in a view of `names` are as asked. */
function idsWhere(n: number, names: string[], home: string, successor?: string): ObjectId[] {
  const ids: ObjectId[] = [];
  while (ids.length < n) {
    const id = ObjectId.random();
    if (homeNodeOf(id.hex, names) !== home) continue;
    if (successor !== undefined && successorNodeOf(id.hex, names) !== successor) continue;
    ids.push(id);
  }
  return ids;
}

async function counter(nodes: Node[], secret: string, name: 'duplicateIds' | 'reclaimLost'): Promise<number> {
  const replies = await Promise.all(nodes.map((n) => status(n, secret)));
  return replies.reduce((sum, r) => sum + Number(r.membership?.[name] ?? 0), 0);
}

describe.skipIf(!etcdInstalled())('cluster: fencing across a cut (etcd)', { timeout: 120_000 }, () => {
  it("ids a cut-off member holds are not granted again while it is away (its tombstones), and it keeps them on return", async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    const nodes = [await startNode(etcd, 'a', secret), await startNode(etcd, 'b', secret), await startNode(etcd, 'c', secret)];
    const [a, b, c] = nodes as [Node, Node, Node];
    await waitMembers(nodes, secret);
    const [onA, onB, onC] = [await client(a), await client(b), await client(c)];
    // Sealed on C, claimed at A or B: those homes stay when C leaves.
    const held = [...idsWhere(3, ['a', 'b', 'c'], 'a'), ...idsWhere(3, ['a', 'b', 'c'], 'b')];
    for (const [i, id] of held.entries()) await putEventually(onC, id, i);

    c.store.child.kill('SIGSTOP');
    try {
      await waitMembers([a, b], secret);
      // C is out of the view; its ids still exist there: refused on both sides of it.
      const outcomes = [];
      for (const [i, id] of held.entries()) outcomes.push(await tryPut(i % 2 ? onA : onB, id, 100 + i));
      expect(outcomes).toEqual(held.map(() => 'exists'));
    } finally {
      c.store.child.kill('SIGCONT');
    }
    await waitMembers(nodes, secret);
    expect(await counter(nodes, secret, 'duplicateIds')).toBe(0);
    expect(await counter(nodes, secret, 'reclaimLost')).toBe(0);
    for (const [i, id] of held.entries()) expect(await read(onA, id)).toEqual(bytes(i));
  });

  it("a member joining while another is away learns the absent member's ids it is now home of, and grants none of them", async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    const nodes = [await startNode(etcd, 'a', secret), await startNode(etcd, 'b', secret), await startNode(etcd, 'c', secret)];
    const [a, b, c] = nodes as [Node, Node, Node];
    await waitMembers(nodes, secret);
    const [onA, onC] = [await client(a), await client(c)];
    // Sealed on C; once C is away and D has joined, D is their home (D never saw C's events).
    const moving = idsWhere(4, ['a', 'b', 'd'], 'd');
    for (const [i, id] of moving.entries()) await putEventually(onC, id, i);

    c.store.child.kill('SIGSTOP');
    let d: Node;
    try {
      await waitMembers([a, b], secret);
      d = await startNode(etcd, 'd', secret);
      await waitMembers([a, b, d], secret);
      const onD = await client(d);
      const outcomes = [];
      for (const [i, id] of moving.entries()) outcomes.push(await tryPut(i % 2 ? onA : onD, id, 100 + i));
      expect(outcomes).toEqual(moving.map(() => 'exists'));
    } finally {
      c.store.child.kill('SIGCONT');
    }
    const all = [a, b, c, d];
    await waitMembers(all, secret);
    expect(await counter(all, secret, 'duplicateIds')).toBe(0);
    expect(await counter(all, secret, 'reclaimLost')).toBe(0);
    for (const [i, id] of moving.entries()) expect(await read(onA, id)).toEqual(bytes(i));
  });

  it('a create homed at a store is refused while its successor is unreachable (the claim is recorded there before the seal)', async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    const nodes = [await startNode(etcd, 'a', secret), await startNode(etcd, 'b', secret), await startNode(etcd, 'c', secret)];
    const [a, b, c] = nodes as [Node, Node, Node];
    await waitMembers(nodes, secret);
    const onC = await client(c);
    const names = ['a', 'b', 'c'];
    const [besideA] = idsWhere(1, names, 'c', 'a');
    const [besideB] = idsWhere(1, names, 'c', 'b');
    // Warm up: C creates at all.
    await putEventually(onC, ObjectId.random(), 0);

    // A stops (shorter than its TTL: it stays a member) and cannot record C's claims.
    a.store.child.kill('SIGSTOP');
    let outcomes: string[];
    try {
      outcomes = [await tryPut(onC, besideA!, 1), await tryPut(onC, besideB!, 2)];
    } finally {
      a.store.child.kill('SIGCONT');
    }
    expect(outcomes).toEqual(['exists', 'sealed']);
    // Once A answers again (or left the view and came back), the id can be created.
    await waitMembers(nodes, secret);
    await putEventually(onC, besideA!, 3);
    expect(await counter(nodes, secret, 'duplicateIds')).toBe(0);
    void b;
  });
});
