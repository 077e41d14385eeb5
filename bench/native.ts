/**
 * Native core microbenchmarks, all measured in one run so the ratios are comparable:
 *   - allocator operations per second (mixed allocate/free, random sizes 64 B to 1 MiB);
 *   - region write bandwidth on first touch versus after pre-faulting (256 MiB in /dev/shm),
 *     next to memcpy bandwidth (Uint8Array.set, 100 MiB, warm pages);
 *   - channel round trips (100 B ping-pong) next to a plain Node `net` socket, in one process
 *     and across two processes.
 * Prints a table and writes bench/results/native.json and bench/results/native.svg.
 *
 * Run: npm run bench:native   (this file forks itself with --echo for the other process)
 */
import { fork } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, type NativeChannel } from '../src/native/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const MiB = 1024 * 1024;
const PAYLOAD = 100;
const ROUND_TRIPS = 20_000;
const WARMUP = 2_000;

interface Row {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

// ---------------------------------------------------------------- echo side (child process)

async function echoChild(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-bench-'));
  const nativePath = path.join(dir, 'native.sock');
  const netPath = path.join(dir, 'net.sock');
  const listener = native.listen(nativePath, 'plasma', (channel) => {
    channel.start({
      onFrame: (type, body) => channel.sendFrame(type, body),
      onFd: (fd) => native.closeFd(fd),
      onClose: () => {},
    });
  });
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk)); // echo bytes as they come
  });
  await new Promise<void>((r) => server.listen(netPath, r));
  process.send!({ nativePath, netPath });
  process.on('disconnect', () => {
    listener.close();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

// ---------------------------------------------------------------- measurements

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function benchAllocator(): Row[] {
  const allocator = native.createAllocator(4096, 4 * 1024 * MiB);
  const live: number[] = [];
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  const sizes = Float64Array.from({ length: 1 << 16 }, () => 64 + Math.floor(rand() * (MiB - 64)));
  const coins = Float64Array.from({ length: 1 << 16 }, () => rand());
  const TARGET = 2000; // live blocks the mix hovers around
  for (let i = 0; i < TARGET; i++) live.push(allocator.allocate(sizes[i]!));
  const OPS = 2_000_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) {
    const k = i & 0xffff;
    if (coins[k]! < (live.length > TARGET ? 0.6 : 0.4) && live.length > 0) {
      const j = (i * 2654435761) % live.length >>> 0;
      allocator.free(live[j]!);
      live[j] = live[live.length - 1]!;
      live.pop();
    } else {
      const offset = allocator.allocate(sizes[k]!);
      if (offset >= 0) live.push(offset);
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const stats = allocator.stats();
  return [
    {
      name: 'allocator ops/s (alloc/free, 64 B-1 MiB)',
      value: OPS / seconds,
      unit: 'ops/s',
      note: `${stats.blocks} live blocks, ${stats.freeBlocks} free blocks at the end`,
    },
  ];
}

function fillSeconds(view: Uint8Array, value: number): number {
  const start = process.hrtime.bigint();
  view.fill(value);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function benchRegion(): Row[] {
  const size = 256 * MiB;
  const rows: Row[] = [];
  const files: string[] = [];
  try {
    const cold = `/dev/shm/plasmapool-bench-${process.pid}-cold`;
    files.push(cold);
    const coldRegion = native.createRegion({ path: cold, capacity: size, nodeName: 'bench', prefault: false });
    const w1 = coldRegion.mapping.window(coldRegion.dataOffset, size);
    const firstTouch = fillSeconds(new Uint8Array(w1.buffer, w1.byteOffset, size), 1);
    coldRegion.close();

    const warm = `/dev/shm/plasmapool-bench-${process.pid}-warm`;
    files.push(warm);
    const t0 = process.hrtime.bigint();
    const warmRegion = native.createRegion({ path: warm, capacity: size, nodeName: 'bench', prefault: true });
    const createSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const w2 = warmRegion.mapping.window(warmRegion.dataOffset, size);
    const view = new Uint8Array(w2.buffer, w2.byteOffset, size);
    const prefaulted = Math.min(fillSeconds(view, 2), fillSeconds(view, 3));
    warmRegion.close();

    // "First touch" of a fallocated tmpfs file: the pages exist (fallocate allocated them) but
    // are not mapped yet, which is what a region without prefault costs on its first use.
    rows.push({ name: 'region write, first touch (256 MiB)', value: size / firstTouch / 1e9, unit: 'GB/s', note: 'fallocated, not pre-faulted' });
    rows.push({ name: 'region write, pre-faulted (256 MiB)', value: size / prefaulted / 1e9, unit: 'GB/s', note: 'Uint8Array.fill, best of 2' });
    rows.push({ name: 'region create + fallocate + prefault', value: createSeconds * 1000, unit: 'ms', note: '256 MiB' });
  } finally {
    for (const file of files) fs.rmSync(file, { force: true });
  }
  return rows;
}

function medianSeconds(run: () => void, times = 7): number {
  const samples: number[] = [];
  for (let i = 0; i < times; i++) {
    const start = process.hrtime.bigint();
    run();
    samples.push(Number(process.hrtime.bigint() - start) / 1e9);
  }
  return samples.sort((a, b) => a - b)[Math.floor(times / 2)]!;
}

function benchMemcpy(): Row[] {
  const size = 100 * MiB;
  const src = Buffer.alloc(size, 7);
  const dst = Buffer.alloc(size, 1); // warm both
  const set = medianSeconds(() => dst.set(src));
  // Buffer.copy is libc memmove; Uint8Array.set goes through V8's element copy.
  const copy = medianSeconds(() => src.copy(dst));
  return [
    { name: 'memcpy (Uint8Array.set, 100 MiB)', value: size / set / 1e9, unit: 'GB/s', note: 'median of 7, warm pages' },
    { name: 'memcpy (Buffer.copy, 100 MiB)', value: size / copy / 1e9, unit: 'GB/s', note: 'median of 7, libc memmove' },
  ];
}

interface PingPong {
  perSecond: number;
  meanUs: number;
  medianUs: number;
  p99Us: number;
}

const RUNS = 3;

/** The run with the median throughput of several (the machine is shared and noisy). */
function medianRun(runs: PingPong[]): PingPong {
  return [...runs].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)]!;
}

/** Ping-pong over two native channels: `send` starts a round trip, `onReply` ends it. */
function runPingPong(send: () => void, setOnReply: (cb: () => void) => void): Promise<PingPong> {
  return new Promise((resolve) => {
    const latencies = new Float64Array(ROUND_TRIPS);
    let done = 0;
    let t = 0n;
    let start = 0n;
    setOnReply(() => {
      const now = process.hrtime.bigint();
      if (done >= WARMUP) latencies[done - WARMUP] = Number(now - t) / 1000;
      done++;
      if (done === WARMUP) start = now;
      if (done === WARMUP + ROUND_TRIPS) {
        const seconds = Number(now - start) / 1e9;
        const sorted = Array.from(latencies).sort((a, b) => a - b);
        const meanUs = sorted.reduce((sum, x) => sum + x, 0) / sorted.length;
        resolve({ perSecond: ROUND_TRIPS / seconds, meanUs, medianUs: percentile(sorted, 50), p99Us: percentile(sorted, 99) });
        return;
      }
      t = process.hrtime.bigint();
      send();
    });
    t = process.hrtime.bigint();
    send();
  });
}

function nativeClientPingPong(channel: NativeChannel): Promise<PingPong> {
  const payload = Buffer.alloc(PAYLOAD, 0x61);
  let onReply: () => void = () => {};
  channel.start({ onFrame: () => onReply(), onFd: (fd) => native.closeFd(fd), onClose: () => {} });
  return runPingPong(
    () => channel.sendFrame(1, payload),
    (cb) => (onReply = cb),
  );
}

async function netClientPingPong(socketPath: string): Promise<PingPong> {
  const socket = net.connect(socketPath);
  socket.setNoDelay(true);
  await new Promise<void>((r) => socket.once('connect', r));
  const payload = Buffer.alloc(PAYLOAD, 0x61);
  let received = 0;
  let onReply: () => void = () => {};
  socket.on('data', (chunk) => {
    received += chunk.length;
    while (received >= PAYLOAD) {
      received -= PAYLOAD;
      onReply();
    }
  });
  const result = await runPingPong(
    () => socket.write(payload),
    (cb) => (onReply = cb),
  );
  socket.destroy();
  return result;
}

async function inProcessNative(): Promise<PingPong> {
  // Two channels over a socketpair, the echo side in this same process.
  const [a, b] = native.socketPair();
  const echo = native.channelFromFd(b, 'plasma');
  echo.start({ onFrame: (type, body) => echo.sendFrame(type, body), onFd: (fd) => native.closeFd(fd), onClose: () => {} });
  const client = native.channelFromFd(a, 'plasma');
  const result = await nativeClientPingPong(client);
  client.close();
  echo.close();
  return result;
}

async function benchInProcess(): Promise<{ native: PingPong; net: PingPong }> {
  // net: a Unix-socket server and client in this process.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-bench-'));
  const socketPath = path.join(dir, 'net.sock');
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('data', (chunk) => s.write(chunk));
  });
  await new Promise<void>((r) => server.listen(socketPath, r));
  const nativeRuns: PingPong[] = [];
  const netRuns: PingPong[] = [];
  for (let i = 0; i < RUNS; i++) {
    nativeRuns.push(await inProcessNative()); // interleaved, so noise hits both alike
    netRuns.push(await netClientPingPong(socketPath));
  }
  await new Promise((r) => server.close(r));
  fs.rmSync(dir, { recursive: true, force: true });
  return { native: medianRun(nativeRuns), net: medianRun(netRuns) };
}

async function benchCrossProcess(): Promise<{ native: PingPong; net: PingPong }> {
  const child = fork(fileURLToPath(import.meta.url), ['--echo'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const { nativePath, netPath } = await new Promise<{ nativePath: string; netPath: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { nativePath: string; netPath: string }));
      child.once('exit', (code) => reject(new Error(`echo process exited early (${code})`)));
    });
    const nativeRuns: PingPong[] = [];
    const netRuns: PingPong[] = [];
    for (let i = 0; i < RUNS; i++) {
      const channel = native.connect(nativePath, 'plasma');
      nativeRuns.push(await nativeClientPingPong(channel));
      channel.close();
      netRuns.push(await netClientPingPong(netPath));
    }
    return { native: medianRun(nativeRuns), net: medianRun(netRuns) };
  } finally {
    child.disconnect();
  }
}

// ---------------------------------------------------------------- report

function pingRows(label: string, r: { native: PingPong; net: PingPong }): Row[] {
  return [
    { name: `channel ping-pong 100 B, ${label}`, value: r.native.perSecond, unit: 'rt/s', note: latencyNote(r.native) },
    { name: `net socket ping-pong 100 B, ${label}`, value: r.net.perSecond, unit: 'rt/s', note: latencyNote(r.net) },
  ];
}

function latencyNote(p: PingPong): string {
  return `mean ${p.meanUs.toFixed(1)} µs, median ${p.medianUs.toFixed(1)} µs, p99 ${p.p99Us.toFixed(1)} µs (median of ${RUNS} runs)`;
}

function format(value: number): string {
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(2);
}

function writeSvg(file: string, ratios: { name: string; value: number }[]): void {
  const width = 760;
  const barArea = 380;
  const rowHeight = 28;
  const max = Math.max(...ratios.map((r) => r.value), 1);
  const height = 50 + ratios.length * rowHeight;
  const bars = ratios
    .map((r, i) => {
      const y = 40 + i * rowHeight;
      const w = Math.max(1, (r.value / max) * barArea);
      return (
        `<text x="10" y="${y + 16}" font-size="12">${r.name}</text>` +
        `<rect x="340" y="${y + 4}" width="${w.toFixed(1)}" height="16" fill="#4a78b5"/>` +
        `<text x="${(345 + w).toFixed(1)}" y="${y + 16}" font-size="12">${r.value.toFixed(2)}×</text>`
      );
    })
    .join('\n');
  fs.writeFileSync(
    file,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">\n` +
      `<text x="10" y="22" font-size="14" font-weight="bold">plasmapool native core: ratios measured in one run</text>\n${bars}\n</svg>\n`,
  );
}

async function main(): Promise<void> {
  const log = (message: string) => process.stderr.write(`${message}\n`);
  log('allocator…');
  const allocator = benchAllocator();
  log('region write bandwidth…');
  const region = benchRegion();
  log('memcpy…');
  const memcpy = benchMemcpy();
  log('ping-pong in one process…');
  const inProcess = await benchInProcess();
  log('ping-pong across processes…');
  const crossProcess = await benchCrossProcess();

  const rows = [...allocator, ...region, ...memcpy, ...pingRows('one process', inProcess), ...pingRows('two processes', crossProcess)];
  const byName = (prefix: string) => rows.find((r) => r.name.startsWith(prefix))!.value;
  const ratios = [
    { name: 'pre-faulted / first-touch write', value: byName('region write, pre-faulted') / byName('region write, first touch') },
    { name: 'pre-faulted write / memcpy (Uint8Array.set)', value: byName('region write, pre-faulted') / byName('memcpy (Uint8Array') },
    { name: 'channel / net rt/s (one process)', value: inProcess.native.perSecond / inProcess.net.perSecond },
    { name: 'channel / net rt/s (two processes)', value: crossProcess.native.perSecond / crossProcess.net.perSecond },
  ];

  const nameWidth = Math.max(...rows.map((r) => r.name.length), ...ratios.map((r) => r.name.length));
  const lines = [
    `| ${'measurement'.padEnd(nameWidth)} | ${'value'.padStart(10)} | unit  | note`,
    `|${'-'.repeat(nameWidth + 2)}|${'-'.repeat(12)}|-------|------`,
    ...rows.map((r) => `| ${r.name.padEnd(nameWidth)} | ${format(r.value).padStart(10)} | ${r.unit.padEnd(5)} | ${r.note ?? ''}`),
    ...ratios.map((r) => `| ${r.name.padEnd(nameWidth)} | ${r.value.toFixed(2).padStart(10)} | ratio | same run`),
  ];
  console.log(lines.join('\n'));

  const resultsDir = path.join(here, 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const result = {
    benchmark: 'native',
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryBytes: os.totalmem(), node: process.version, kernel: os.release() },
    parameters: { pingPongPayloadBytes: PAYLOAD, roundTrips: ROUND_TRIPS, warmup: WARMUP, runs: RUNS, regionBytes: 256 * MiB, memcpyBytes: 100 * MiB },
    rows,
    pingPong: { oneProcess: inProcess, twoProcesses: crossProcess },
    ratios,
  };
  fs.writeFileSync(path.join(resultsDir, 'native.json'), JSON.stringify(result, null, 2) + '\n');
  writeSvg(path.join(resultsDir, 'native.svg'), ratios);
  log(`wrote ${path.relative(process.cwd(), path.join(resultsDir, 'native.json'))} and native.svg`);
}

if (process.argv.includes('--echo')) {
  void echoChild();
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
