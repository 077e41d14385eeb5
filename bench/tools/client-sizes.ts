/**
 * The TypeScript client against a running store, by object size: what issue 10 item 3 is about
 * (docs/performance.md, "The TypeScript client"). Prints medians and the load average.
 *
 *   node bin/plasmapool.js store -s /tmp/pp.sock -m 3GiB &
 *   npx tsx bench/tools/client-sizes.ts /tmp/pp.sock [sizes=1000,1000000,100000000] [repeats=10]
 *   # profiles: node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof --trace-gc bench/tools/client-sizes.ts ...
 *
 * - get (fresh): the first get of objects just created by another connection, held until all are
 *   got (as the benchmark matrix does), then released;
 * - get+release (same object): one object got and released again and again;
 * - getTable (fresh): putTable, then getTable on another connection (a new one per round);
 * - create+write+seal, through ObjectBuffer.write (digest while copying) and through `data.set`
 *   (digest at seal), and putTable, against memcpy (`Uint8Array.set` into warm memory).
 * Objects are deleted after each round, so later rounds reuse warm memory: medians are steady state.
 */
import os from 'node:os';
import { tableFromArrays } from 'apache-arrow';
import { connect } from '../../src/client/plasma-client.js';
import { getTable, putTable } from '../../src/arrow/table-objects.js';
import { ObjectId } from '../../src/protocol/object-id.js';

const [socket, sizesArg = '1000,1000000,100000000', repeatsArg = '10'] = process.argv.slice(2);
if (!socket) {
  console.error('usage: client-sizes.ts SOCKET [sizes] [repeats]');
  process.exit(2);
}
const sizes = sizesArg.split(',').map(Number);
const repeats = Number(repeatsArg);
const producer = await connect(socket);
const consumer = await connect(socket);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const us = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`);
const now = () => performance.now() * 1e3;

for (const size of sizes) {
  const source = new Uint8Array(size + 64);
  for (let i = 0; i < source.length; i += 61) source[i] = i & 0xff;
  const heap = new Uint8Array(size);
  heap.set(source.subarray(0, size));
  const perRound = Math.max(2, Math.min(20, Math.floor(4e8 / Math.max(size, 1))));
  const t = { memcpy: [] as number[], write: [] as number[], set: [] as number[], putTable: [] as number[], get: [] as number[], getRelease: [] as number[], getTable: [] as number[] };
  const table = tableFromArrays({ x: new Float64Array(source.buffer, 0, Math.floor(size / 8)) });
  for (let r = 0; r < repeats; r++) {
    let t0 = now();
    heap.set(source.subarray(r % 64, (r % 64) + size));
    t.memcpy.push(now() - t0);
    const ids = Array.from({ length: perRound }, () => ObjectId.random());
    for (const [i, id] of ids.entries()) {
      t0 = now();
      const object = await producer.create(id, size);
      const data = source.subarray(i % 64, (i % 64) + size);
      // Alternate the two ways to write (a build without ObjectBuffer.write only has data.set).
      const writer = object as unknown as { write?: (bytes: Uint8Array) => void };
      const mode = i % 2 === 0 && typeof writer.write === 'function' ? 'write' : 'set';
      if (mode === 'write') writer.write!(data);
      else object.data.set(data);
      await producer.seal(id);
      object.release();
      t[mode].push(now() - t0);
    }
    const held = [];
    for (const id of ids) {
      t0 = now();
      const [buffer] = await consumer.get([id]);
      t.get.push(now() - t0);
      held.push(buffer!);
    }
    for (const buffer of held) buffer.release();
    for (let i = 0; i < 20; i++) {
      t0 = now();
      const [buffer] = await consumer.get([ids[0]!]);
      buffer!.release();
      t.getRelease.push(now() - t0);
    }
    await producer.delete(ids);
    const tableIds = Array.from({ length: Math.min(perRound, 4) }, () => ObjectId.random());
    for (const id of tableIds) {
      t0 = now();
      await putTable(producer, id, table);
      t.putTable.push(now() - t0);
    }
    // Tables pin their objects until collected: a connection of their own, closed at the end of
    // the round, releases them, so that the deletes free the memory for the next round.
    const reader = await connect(socket);
    for (const id of tableIds) {
      t0 = now();
      const table = await getTable(reader, id);
      t.getTable.push(now() - t0);
      if (table.numRows !== Math.floor(size / 8)) throw new Error(`getTable returned ${table.numRows} rows`);
    }
    reader.close();
    await producer.delete(tableIds);
  }
  const mc = median(t.memcpy);
  const bw = (v: number) => `${(size / (v * 1e3)).toFixed(2)} GB/s = ${(mc / v).toFixed(2)} × memcpy`;
  console.log(`${size} B: memcpy ${us(mc)}`);
  for (const op of ['write', 'set', 'putTable'] as const) if (t[op].length) console.log(`  create+${op === 'putTable' ? 'putTable' : op}+seal ${us(median(t[op]))} (${bw(median(t[op]))})`.replace('create+putTable+seal', 'putTable'));
  for (const op of ['get', 'getRelease', 'getTable'] as const) console.log(`  ${op} ${us(median(t[op]))}`);
}
console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${os.cpus().length} cores`);
producer.close();
consumer.close();
process.exit(0);
