/**
 * The machine's own limits, measured in the same run as everything else: memcpy bandwidth (Node
 * `Uint8Array.set` of 100 MB, warm pages) and the Unix-socket round trip (100 B ping-pong between
 * two Node processes, the floor under every small-object request).
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { defer, stopChild, trackChild } from '../lib/cleanup.js';
import { summarize } from '../lib/stats.js';
import type { Baselines } from '../lib/results.js';

export function memcpyNode(source: Uint8Array, bytes: number, repeats: number): NonNullable<Baselines['memcpyNode']> {
  const src = source.subarray(0, bytes);
  const dst = new Uint8Array(bytes);
  dst.set(src); // fault the destination in: the warm figure is the one to compare with
  dst.set(src);
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    dst.set(src);
    samples.push((performance.now() - t0) * 1e3);
  }
  const s = summarize(samples);
  return { bytes, medianUs: s.medianUs, gbps: bytes / (s.medianUs * 1e3), n: s.n };
}

/** An echo server in its own Node process (plain JS, no build needed). */
const ECHO_SERVER = `
const net = require('net');
const server = net.createServer((s) => { s.setNoDelay(true); s.on('data', (d) => s.write(d)); });
server.listen(process.argv[1], () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export async function unixPingPong(dir: string, roundTrips: number, bytes = 100): Promise<NonNullable<Baselines['unixPingPong']>> {
  const socketPath = path.join(dir, 'echo.sock');
  const child = spawn(process.execPath, ['-e', ECHO_SERVER, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  trackChild(child);
  const stop = defer('echo server', () => stopChild(child, 1000));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`the echo server exited with code ${code}`)));
    });
    const socket = net.createConnection(socketPath);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const message = Buffer.alloc(bytes, 7);
    let received = 0;
    let wake: (() => void) | null = null;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
      if (received >= bytes && wake) {
        received -= bytes;
        const w = wake;
        wake = null;
        w();
      }
    });
    const once = () =>
      new Promise<void>((resolve) => {
        wake = resolve;
        socket.write(message);
      });
    for (let i = 0; i < 200; i++) await once(); // warm up
    const samples: number[] = [];
    for (let i = 0; i < roundTrips; i++) {
      const t0 = performance.now();
      await once();
      samples.push((performance.now() - t0) * 1e3);
    }
    socket.destroy();
    const s = summarize(samples);
    return { bytes, medianUs: s.medianUs, p99Us: s.p99Us, n: s.n };
  } finally {
    await stop();
  }
}
