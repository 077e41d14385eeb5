// Id uniqueness across the cluster: concurrent creates of one id on two nodes never both seal;
// the loser gets ObjectExists and leaves nothing behind.
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/client/plasma-client.js';
import { PlasmaObjectExistsError } from '../../src/client/errors.js';
import { homeNodeOf } from '../../src/cluster/home-node.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { startTestCluster } from '../helpers/processes.js';
import { PyAgent, newId, waitConnected } from './agents.js';

const TRIALS = 50;

describe('cluster: id claims', () => {
  it('6a. pyarrow: creates of one id on A and B, both written before either seals, never both seal', async () => {
    const cluster = await startTestCluster({ nodes: 3 });
    await waitConnected(cluster);
    const [a, b] = cluster.nodes;
    const names = cluster.nodes.map((n) => n.name);
    const [onA, onB, readA, readB] = await Promise.all([
      PyAgent.start(a!.socketPath),
      PyAgent.start(b!.socketPath),
      // Readers are separate clients: after a seal refused with PlasmaObjectExists, pyarrow's
      // client has already marked its own entry sealed and would answer a get of that id from
      // its stale local entry (see docs/cluster.md, "pyarrow and a refused seal").
      PyAgent.start(a!.socketPath),
      PyAgent.start(b!.socketPath),
    ]);
    const winners = { [a!.name]: 0, [b!.name]: 0 };
    const homes = new Map<string, number>();
    for (let trial = 0; trial < TRIALS; trial++) {
      const id = newId();
      homes.set(homeNodeOf(id, names), (homes.get(homeNodeOf(id, names)) ?? 0) + 1);
      // Different bytes on each side, so that a reader can tell which object won.
      const created = await Promise.all([
        onA.call('create', { id, size: 1000, seed: `A${id}` }),
        onB.call('create', { id, size: 1000, seed: `B${id}` }),
      ]);
      expect(created.map((r) => r.ok)).toEqual([true, true]);
      // Alternate which seal is sent first; both are in flight together.
      const order = trial % 2 === 0 ? [onA, onB] : [onB, onA];
      const sealed = await Promise.all(order.map((agent) => agent.call('seal', { id })));
      const ok = sealed.filter((r) => r.ok);
      expect(ok, `trial ${trial}: ${JSON.stringify(sealed)}`).toHaveLength(1);
      const loserReply = sealed.find((r) => !r.ok)!;
      expect(loserReply.error).toBe('PlasmaObjectExists');
      const winner = sealed[0]!.ok ? order[0]! : order[1]!;
      const loser = winner === onA ? onB : onA;
      winners[winner === onA ? a!.name : b!.name]! += 1;

      // The loser's store kept nothing of its own; the winner's is sealed, and both nodes read it.
      const loserList = (await loser.must('list')).objects as Record<string, unknown>;
      expect(loserList[id], `trial ${trial}: the losing object is left behind`).toBeUndefined();
      const winnerList = (await winner.must('list')).objects as Record<string, { state: string }>;
      expect(winnerList[id]?.state).toBe('sealed');
      const [fromA, fromB] = await Promise.all([
        readA.must('get', { id, timeout_ms: 2000, hold: false }),
        readB.must('get', { id, timeout_ms: 2000, hold: false }),
      ]);
      expect(fromA.found && fromB.found).toBe(true);
      expect(fromA.sha256).toBe(fromB.sha256);
      expect(fromA.sha256).toBe(winner === onA ? created[0]!.sha256 : created[1]!.sha256);
    }
    // Every home placement occurred (A, B and the third node), and both sides won sometimes.
    expect([...homes.keys()].sort()).toEqual([...names].sort());
    expect(winners[a!.name]).toBeGreaterThan(0);
    expect(winners[b!.name]).toBeGreaterThan(0);
  });

  it('6b. TypeScript: create on A and B at once, seal at once; the loser gets PlasmaObjectExistsError', async () => {
    const cluster = await startTestCluster({ nodes: 3 });
    await waitConnected(cluster);
    const [a, b] = cluster.nodes;
    const [clientA, clientB] = await Promise.all([connect(a!.socketPath), connect(b!.socketPath)]);
    try {
      for (let trial = 0; trial < TRIALS; trial++) {
        const id = ObjectId.fromHex(newId());
        const buffers = await Promise.all([clientA.create(id, 1024), clientB.create(id, 1024)]);
        buffers[0]!.data.fill(0xaa);
        buffers[1]!.data.fill(0xbb);
        for (const buffer of buffers) buffer.release();
        const results = await Promise.allSettled([clientA.seal(id), clientB.seal(id)]);
        const fulfilled = results.filter((r) => r.status === 'fulfilled');
        expect(fulfilled, `trial ${trial}`).toHaveLength(1);
        const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(rejected.reason).toBeInstanceOf(PlasmaObjectExistsError);
        const [winner, loser] = results[0]!.status === 'fulfilled' ? [clientA, clientB] : [clientB, clientA];
        expect((await loser.list()).some((o) => o.id.hex === id.hex)).toBe(false);
        expect((await winner.list()).find((o) => o.id.hex === id.hex)?.state).toBe('sealed');
        // A second create of the same id on the loser, after the fact, is refused too.
        const again = await loser.create(id, 10).then(
          async (buffer) => {
            buffer.release();
            return loser.seal(id);
          },
        ).then(() => 'sealed', (error: Error) => error);
        expect(again).toBeInstanceOf(PlasmaObjectExistsError);
      }
    } finally {
      clientA.close();
      clientB.close();
    }
  });

  it('6c. a create of an id sealed on another node is refused at once, before the client writes', async () => {
    const cluster = await startTestCluster({ nodes: 3 });
    await waitConnected(cluster);
    const [a, , c] = cluster.nodes;
    const [clientA, clientC] = await Promise.all([connect(a!.socketPath), connect(c!.socketPath)]);
    try {
      const id = ObjectId.fromHex(newId());
      await clientA.createAndSeal(id, new Uint8Array(10).fill(0xaa));
      // C learns of the seal from A's event stream; wait until its directory knows the id.
      await expect.poll(() => clientC.contains(id), { timeout: 5000 }).toBe(true);
      await expect(clientC.create(id, 10)).rejects.toBeInstanceOf(PlasmaObjectExistsError);
      // C's client reads A's object, not anything of its own.
      const [buffer] = await clientC.get([id], { timeoutMs: 5000 });
      expect(Array.from(buffer!.data)).toEqual(new Array(10).fill(0xaa));
      buffer!.release();
    } finally {
      clientA.close();
      clientC.close();
    }
  });

  it('6d. a refused seal never frees memory its creator still maps; its Release does', async () => {
    const cluster = await startTestCluster({ nodes: 3 });
    await waitConnected(cluster);
    const [a, , c] = cluster.nodes;
    const creators = await Promise.all([connect(a!.socketPath), connect(c!.socketPath)]);
    const neighbours = await Promise.all([connect(a!.socketPath), connect(c!.socketPath)]);
    try {
      const size = 4096;
      for (let trial = 0; trial < 6; trial++) {
        const id = ObjectId.fromHex(newId());
        const buffers = await Promise.all(creators.map((client) => client.create(id, size)));
        buffers.forEach((buffer, side) => buffer.data.fill(side === 0 ? 0xaa : 0xcc));
        const sealed = await Promise.allSettled(creators.map((client) => client.seal(id)));
        const loserSide = sealed.findIndex((r) => r.status === 'rejected');
        expect(loserSide, `trial ${trial}: exactly one seal is refused`).toBeGreaterThanOrEqual(0);
        expect((sealed[loserSide] as PromiseRejectedResult).reason).toBeInstanceOf(PlasmaObjectExistsError);
        const pattern = loserSide === 0 ? 0xaa : 0xcc;
        // Another client of the losing node allocates: were the refused block freed, it would land there.
        const neighbour = neighbours[loserSide]!;
        const others: ObjectId[] = [];
        for (let i = 0; i < 4; i++) {
          const other = ObjectId.random();
          const buffer = await neighbour.create(other, size);
          buffer.data.fill(0x55);
          await neighbour.seal(other);
          buffer.release();
          others.push(other);
        }
        const loserBuffer = buffers[loserSide]!;
        expect(loserBuffer.data.every((byte) => byte === pattern), `trial ${trial}: the refused object's memory was reused`).toBe(true);
        for (const buffer of buffers) buffer.release();
        await neighbour.delete(others);
        await creators[1 - loserSide]!.delete([id]);
      }
      // Every refused allocation was given back on Release: both nodes hold nothing now.
      for (const neighbour of neighbours) {
        await expect.poll(() => neighbour.debugString()).toMatch(/allocated bytes: 0\n/);
      }
    } finally {
      for (const client of [...creators, ...neighbours]) client.close();
    }
  });
});
