/**
 * The research's microbenchmark matrix with the TypeScript client: for every workload (count
 * objects of size bytes, repeated), per object: create+write+seal on the producer, then get on
 * the consumer (a separate connection, on the same store for `local` or another node of a
 * cluster for `shared`/`copy`), read (touch every byte), release. Fresh ids every repeat, so a
 * remote get is always a first get (lookup; for copy the transfer) and never a cached one.
 */
import { connect, type PlasmaClient } from '../../src/client/plasma-client.js';
import type { ObjectBuffer } from '../../src/client/object-buffer.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import type { Workload } from '../lib/options.js';
import type { Placement, RawWorkload } from '../lib/results.js';
import { sliceOf, touchAll } from '../lib/touch.js';

export interface MatrixRun {
  producerSocket: string;
  consumerSocket: string;
  placement: Placement;
  workloads: Workload[];
  source: Uint8Array;
  /** Unrecorded repeats run first (first mapping of a segment, page tables, JIT). */
  warmup: number;
  /** Called after each repeat (warm-ups included). */
  onRepeat(workload: Workload): void;
}

async function runRepeat(producer: PlasmaClient, consumer: PlasmaClient, w: Workload, source: Uint8Array, placement: Placement) {
  const ids = Array.from({ length: w.count }, () => ObjectId.random());
  const cws: number[] = [];
  const get: number[] = [];
  const read: number[] = [];
  const release: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    const data = sliceOf(source, i, w.size);
    const t0 = performance.now();
    const object = await producer.create(ids[i]!, w.size);
    // write(): the client's bulk write, which hashes for seal while it copies (one pass).
    object.write(data);
    await producer.seal(ids[i]!);
    object.release();
    cws.push((performance.now() - t0) * 1e3);
  }
  const held: ObjectBuffer[] = [];
  for (const id of ids) {
    const t0 = performance.now();
    const [object] = await consumer.get([id], { timeoutMs: 30_000 });
    get.push((performance.now() - t0) * 1e3);
    if (!object) throw new Error(`get of ${id.hex} (${w.size} bytes, ${placement}) timed out after 30 s`);
    held.push(object);
  }
  for (const object of held) {
    const t0 = performance.now();
    touchAll(object.data);
    read.push((performance.now() - t0) * 1e3);
  }
  for (const object of held) {
    const t0 = performance.now();
    object.release();
    release.push((performance.now() - t0) * 1e3);
  }
  await producer.delete(ids);
  // The copy transport left replicas in the consumer's store: drop them too.
  if (placement === 'copy') await consumer.delete(ids);
  return { cws, get, read, release };
}

export async function runMatrix(run: MatrixRun): Promise<RawWorkload[]> {
  const producer = await connect(run.producerSocket);
  const consumer = await connect(run.consumerSocket);
  try {
    const out: RawWorkload[] = [];
    for (const w of run.workloads) {
      const raw: RawWorkload = { count: w.count, size: w.size, repeats: w.repeats, samplesUs: { createWriteSeal: [], get: [], read: [], release: [] } };
      for (let r = -run.warmup; r < w.repeats; r++) {
        const { cws, get, read, release } = await runRepeat(producer, consumer, w, run.source, run.placement);
        run.onRepeat(w);
        if (r < 0) continue;
        raw.samplesUs.createWriteSeal!.push(cws);
        raw.samplesUs.get!.push(get);
        raw.samplesUs.read!.push(read);
        raw.samplesUs.release!.push(release);
      }
      out.push(raw);
    }
    return out;
  } finally {
    producer.close();
    consumer.close();
  }
}
