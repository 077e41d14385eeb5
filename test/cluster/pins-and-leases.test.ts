// Usage tracking across nodes: an owner never evicts what a remote client reads; pins go away
// when that client releases or dies, and when its store dies the owner's lease runs out.
import { describe, expect, it } from 'vitest';
import { startTestCluster } from '../helpers/processes.js';
import { PyAgent, eventually, newId, waitConnected } from './agents.js';

/** Evict requests for more than any store holds (2 ** 40, not 1 << 40: JS shifts are 32-bit). */
const EVERYTHING = 2 ** 40;

type Listing = Record<string, { ref_count: number; data_size: number; state: string }>;

async function listing(agent: PyAgent): Promise<Listing> {
  return (await agent.must('list')).objects as Listing;
}

/** Put `held` and `spare` on A (1 MiB each), and let B's client get (and hold) `held`. */
async function setup(options: { leaseMs?: number } = {}) {
  const cluster = await startTestCluster({ nodes: 3, ...options });
  await waitConnected(cluster);
  const [a, b] = cluster.nodes;
  const [onA, onB] = await Promise.all([PyAgent.start(a!.socketPath), PyAgent.start(b!.socketPath)]);
  const held = newId();
  const spare = newId();
  const put = await onA.must('put', { id: held, size: 1 << 20 });
  await onA.must('put', { id: spare, size: 1 << 20 });
  const got = await onB.must('get', { id: held, timeout_ms: 5000 });
  expect(got.sha256).toBe(put.sha256);
  expect((await listing(onA))[held]!.ref_count).toBe(1);
  return { cluster, onA, onB, held, spare };
}

describe('cluster: pins and leases', () => {
  it('3. eviction on A spares an object B\'s client holds; once B releases it, it can be evicted', async () => {
    const { onA, onB, held, spare } = await setup();
    const evicted = (await onA.must('evict', { bytes: EVERYTHING })).evicted as number;
    expect(evicted).toBe(1 << 20); // the spare object only
    const after = await listing(onA);
    expect(after[spare]).toBeUndefined();
    expect(after[held]?.ref_count).toBe(1);
    // B's client still reads the right bytes.
    expect((await onB.must('get', { id: held, timeout_ms: 0, hold: false })).found).toBe(true);

    await onB.must('release', { id: held });
    // The unpin reaches A asynchronously (batched per owner).
    expect(await eventually(async () => (await listing(onA))[held]?.ref_count === 0, 3000)).toBe(true);
    expect((await onA.must('evict', { bytes: EVERYTHING })).evicted).toBe(1 << 20);
    expect((await listing(onA))[held]).toBeUndefined();
  });

  it('4. B\'s client killed (SIGKILL) while holding a remote object: the pin at A is released', async () => {
    const { onA, onB, held } = await setup();
    await onB.kill('SIGKILL');
    expect(await eventually(async () => (await listing(onA))[held]?.ref_count === 0, 3000)).toBe(true);
    expect((await onA.must('evict', { bytes: EVERYTHING })).evicted).toBe(2 << 20);
    expect(await listing(onA)).toEqual({});
  });

  it('5. B\'s store killed (SIGKILL) while its client holds a remote object: A\'s lease expires, then A can evict it', async () => {
    const leaseMs = 1000;
    const { cluster, onA, held } = await setup({ leaseMs });
    const killedAt = Date.now();
    cluster.nodes[1]!.process.kill('SIGKILL');
    // Until the lease runs out, the pin holds (B might only be cut off, its client still reading).
    expect((await listing(onA))[held]?.ref_count).toBe(1);
    expect((await onA.must('evict', { bytes: EVERYTHING })).evicted).toBe(1 << 20);
    expect((await listing(onA))[held]).toBeDefined();

    expect(await eventually(async () => (await listing(onA))[held]?.ref_count === 0, 3 * leaseMs)).toBe(true);
    const expiredAfter = Date.now() - killedAt;
    console.log('expired after', expiredAfter);
    expect(expiredAfter).toBeGreaterThan(leaseMs / 2);
    expect(expiredAfter).toBeLessThan(2.5 * leaseMs);
    expect((await onA.must('evict', { bytes: EVERYTHING })).evicted).toBe(1 << 20);
    expect(await listing(onA)).toEqual({});
  });
});
