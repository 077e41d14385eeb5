// Copy transport (forced): B fetches A's object over a gRPC stream into a verified local replica
// in B's own region; B's client never maps A's region.
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../src/client/connection.js';
import { connect } from '../../src/client/plasma-client.js';
import { PlasmaError } from '../../src/protocol/messages.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { onCleanup, startTestCluster } from '../helpers/processes.js';
import { PyAgent, mappingsOf, newId, nodeStatus, waitConnected } from './agents.js';

/** 2 nodes (copy); on A an object sealed with a digest that does not describe its bytes. */
async function badDigestObject() {
  const cluster = await startTestCluster({ nodes: 2, transport: 'copy' });
  await waitConnected(cluster);
  const [a, b] = cluster.nodes;
  const producer = await connect(a!.socketPath);
  onCleanup(() => producer.close());
  const onB = await PyAgent.start(b!.socketPath);
  const id = ObjectId.fromHex(newId());
  const buffer = await producer.create(id, 2 << 20);
  buffer.data.fill(7);
  buffer.release();
  // What a copy corrupted in flight, or an owner's memory changed after seal, would look like.
  const connection = (producer as unknown as { connection: Connection }).connection;
  const { reply } = await connection.request({ kind: 'seal', objectId: id, digest: new Uint8Array(8).fill(1) });
  expect(reply).toMatchObject({ kind: 'seal', error: PlasmaError.OK });
  return { onB, b: b!, id: id.hex, access: cluster.access };
}

describe('cluster: copy transport', () => {
  it('7. B gets A\'s objects (0 B, 1 MiB + 1, 100 MB) as local replicas with identical bytes and digests', async () => {
    const cluster = await startTestCluster({ nodes: 3, transport: 'copy', memory: '160MiB' });
    const status = await waitConnected(cluster);
    for (const node of status) for (const peer of node.peers) expect(peer.transport).toBe('copy');
    const [a, b] = cluster.nodes;
    const [onA, onB] = await Promise.all([PyAgent.start(a!.socketPath), PyAgent.start(b!.socketPath)]);

    for (const size of [0, (1 << 20) + 1, 100_000_000]) {
      const id = newId();
      const put = await onA.must('put', { id, size });
      const got = await onB.must('get', { id, timeout_ms: 10_000 });
      expect(got.found, `size ${size}`).toBe(true);
      expect(got.size).toBe(size);
      expect(got.sha256).toBe(put.sha256);
      // Plasma's own digest (XXH64, computed by each pyarrow client from the bytes it reads).
      expect((await onB.must('hash', { id })).hash).toBe((await onA.must('hash', { id })).hash);
      // A replica in B's region: B lists it as its own object, pinned by B's client.
      const listed = (await onB.must('list')).objects as Record<string, { data_size: number; ref_count: number }>;
      expect(listed[id]).toMatchObject({ data_size: size, ref_count: 1 });
      if (size > 0) {
        const address = BigInt(got.address as number);
        const own = mappingsOf(onB.maps(), b!.regionPath);
        expect(own.some((r) => address >= r.start && address + BigInt(size) <= r.end)).toBe(true);
      }
      await onB.must('release', { id });
    }
    // B's client never mapped A's region, and neither did B's store need to.
    expect(mappingsOf(onB.maps(), a!.regionPath)).toHaveLength(0);
    expect(mappingsOf(onB.maps(), b!.regionPath).length).toBeGreaterThan(0);
    // The replicas are evictable like any object of B once released; A's originals stay.
    const evicted = (await onB.must('evict', { bytes: 2 ** 40 })).evicted as number;
    expect(evicted).toBe(100_000_000 + (1 << 20) + 1);
    expect(Object.keys((await onA.must('list')).objects as object)).toHaveLength(3);
  });

  it('7b. a copy whose bytes do not match the digest recorded at seal is refused', async () => {
    const { onB, id } = await badDigestObject();
    const got = await onB.must('get', { id, timeout_ms: 1500 });
    expect(got.found).toBe(false);
  });

  // Fails until PlasmaStore.fetchCopy removes its half-made replica when the fetch fails (store-side
  // change reported with issue 5): today it stays 'created' with its memory, and the id can never be
  // fetched on that node again. Flip to it() once fixed.
  it('7c. a failed copy leaves no half-made replica behind', async () => {
    const { onB, b, id, access } = await badDigestObject();
    await onB.must('get', { id, timeout_ms: 1500 });
    expect((await onB.must('list')).objects).toEqual({});
    expect((await nodeStatus(b.address, access)).allocated).toBe(0);
  });
});
