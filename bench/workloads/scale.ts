/**
 * Throughput of one store under K concurrent clients (1 … 64): K separate connections, each its
 * own PlasmaClient with one request in flight, spread over min(K, cores) Node worker processes
 * (scale-worker.ts, started once and reused for every K). All workers start each phase together
 * (a command on stdin) and run it for the same time; throughput is the sum of completed
 * operations over that time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { defer, stopChild, trackChild } from '../lib/cleanup.js';
import type { ScaleRow } from '../lib/results.js';
import { summarize } from '../lib/stats.js';

const workerPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'scale-worker.ts');

export const SCALE_DESCRIPTION =
  'K concurrent clients = K separate Unix-socket connections (one TypeScript PlasmaClient each, one request in flight), ' +
  'spread over min(K, cores) Node worker processes; PUT = create+write+seal of a fresh 1 kB object, GET = get+release ' +
  'of one of the objects that client put. Each phase runs for the same time in every worker. A level marked "+ N idle" ' +
  'also holds N more connections open (each checked with one round trip) while it runs.';

class Worker {
  private readonly queue: string[] = [];
  private readonly waiting: { resolve: (line: string) => void; reject: (error: Error) => void }[] = [];
  private exited: Error | null = null;
  connections = 0;

  constructor(readonly child: ChildProcess) {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w.resolve(line);
      else this.queue.push(line);
    });
    child.once('exit', (code, signal) => {
      this.exited = new Error(`a scale worker exited (code ${code}, signal ${signal})`);
      for (const w of this.waiting.splice(0)) w.reject(this.exited);
    });
  }

  next(): Promise<string> {
    const line = this.queue.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async command(text: string, expect: RegExp): Promise<string> {
    this.child.stdin!.write(`${text}\n`);
    const line = await this.next();
    if (!expect.test(line)) throw new Error(`a scale worker answered "${line.slice(0, 200)}" to ${text}`);
    return line;
  }
}

export interface ScaleRunner {
  /** K active clients; `idle` more connections held open meanwhile. */
  level(clients: number, idle?: number): Promise<ScaleRow>;
  close(): Promise<void>;
}

export async function startScale(socket: string, seconds: number, size = 1000): Promise<ScaleRunner> {
  const workers: Worker[] = [];
  const close = defer('scale workers', async () => {
    for (const w of workers) if (w.child.exitCode === null) w.child.stdin!.write('END\n');
    await Promise.all(workers.map((w) => stopChild(w.child, 5000)));
  });
  try {
    for (let p = 0; p < os.cpus().length; p++) {
      // tsx runs this harness; the worker needs it to load TypeScript too.
      const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), workerPath, JSON.stringify({ socket, seconds, size })], {
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      trackChild(child);
      workers.push(new Worker(child));
    }
    for (const w of workers) if ((await w.next()) !== 'READY') throw new Error('a scale worker did not start');
  } catch (error) {
    await close();
    throw error;
  }
  return {
    close,
    async level(clients: number, idle = 0): Promise<ScaleRow> {
      const processes = Math.min(clients, workers.length);
      const share = (total: number, p: number, over: number) => (p < over ? Math.floor(total / over) + (p < total % over ? 1 : 0) : 0);
      await Promise.all(
        workers.map((w, p) => {
          w.connections = share(clients, p, processes);
          return w.command(`OPEN ${w.connections}`, /^READY$/);
        }),
      );
      let idleResult: ScaleRow['idle'];
      if (idle > 0) {
        const replies = await Promise.all(workers.map((w, p) => w.command(`IDLE ${share(idle, p, workers.length)}`, /^DONE /)));
        const parsed = replies.map((line) => JSON.parse(line.slice(5)) as { opened: number; errors: number });
        idleResult = { opened: parsed.reduce((a, p) => a + p.opened, 0), errors: parsed.reduce((a, p) => a + p.errors, 0) };
      }
      const active = workers.filter((w) => w.connections > 0);
      const result = {} as Pick<ScaleRow, 'put' | 'get'>;
      for (const phase of ['PUT', 'GET'] as const) {
        const replies = await Promise.all(active.map((w) => w.command(phase, /^DONE /)));
        const parsed = replies.map((line) => JSON.parse(line.slice(5)) as { ops: number; errors: number; samplesUs: number[] });
        const ops = parsed.reduce((a, p) => a + p.ops, 0);
        const errors = parsed.reduce((a, p) => a + p.errors, 0);
        const stats = summarize(parsed.flatMap((p) => p.samplesUs));
        result[phase === 'PUT' ? 'put' : 'get'] = { opsPerSec: ops / seconds, medianUs: stats.medianUs, p99Us: stats.p99Us, ops, errors };
      }
      return { clients, processes, ...result, ...(idleResult ? { idle: idleResult } : {}) };
    },
  };
}
