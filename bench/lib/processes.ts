/**
 * The processes a benchmark run starts: plasmapool stores, the reference plasma-store-server,
 * local clusters, and the Python driver. Each is registered with the cleanup registry the moment
 * it exists, so nothing outlives the run, whatever way it ends.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalCluster, type LocalCluster } from '../../src/cluster/local-cluster.js';
import { queryStatus } from '../../src/cluster/status-client.js';
import { defer, regionFilesOf, stopChild, trackChild, trackPath, untrackPath } from './cleanup.js';
import { REPO_ROOT } from './options.js';

export const CLI = path.join(REPO_ROOT, 'bin/plasmapool.js');

/** A private temp directory with a short path (Unix socket paths are limited to 107 bytes). */
export function tempDir(prefix = 'ppbench-'): { dir: string; remove: () => Promise<void> } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  trackPath(dir);
  const remove = defer(`temp dir ${dir}`, () => {
    fs.rmSync(dir, { recursive: true, force: true });
    untrackPath(dir);
  });
  return { dir, remove };
}

export interface StoreProcess {
  kind: 'plasmapool' | 'reference';
  socketPath: string;
  pid: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

function waitForSocket(child: ChildProcess, socketPath: string, what: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`${what} exited (code ${code}, signal ${signal}) before listening on ${socketPath}:\n${stderr.trim()}`));
    child.once('exit', onExit);
    const poll = () => {
      if (fs.existsSync(socketPath)) {
        child.off('exit', onExit);
        return resolve();
      }
      if (Date.now() - started > timeoutMs) {
        child.off('exit', onExit);
        return reject(new Error(`${what} did not create ${socketPath} within ${timeoutMs} ms:\n${stderr.trim()}`));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

async function launch(kind: StoreProcess['kind'], command: string, args: string[], socketPath: string): Promise<StoreProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  // Keep draining both pipes so that a chatty store never blocks on a full pipe.
  child.stdout!.resume();
  const pid = child.pid!;
  const stop = defer(`${kind} store ${socketPath}`, async () => {
    await stopChild(child);
    // A store that had to be SIGKILLed leaves its region file; remove it (plasmapool names it by pid).
    for (const file of regionFilesOf(pid)) fs.rmSync(file, { force: true });
    fs.rmSync(socketPath, { force: true });
  });
  try {
    await waitForSocket(child, socketPath, `${kind} store`);
  } catch (error) {
    await stop();
    throw error;
  }
  child.stderr!.resume();
  return { kind, socketPath, pid, child, stop };
}

/** `plasmapool store -s SOCKET -m BYTES` as its own process (as users run it). */
export function startPlasmapoolStore(socketPath: string, memory: number): Promise<StoreProcess> {
  if (!fs.existsSync(path.join(REPO_ROOT, 'dist/cli/main.js'))) {
    throw new Error(`${REPO_ROOT}/dist is missing: run \`npm run build\` first (the stores run the built CLI)`);
  }
  return launch('plasmapool', process.execPath, [CLI, 'store', '-s', socketPath, '-m', String(memory)], socketPath);
}

/** The reference store: plasma-store-server from the pyarrow 11 wheel in the venv. */
export function startReferenceStore(binary: string, socketPath: string, memory: number): Promise<StoreProcess> {
  return launch('reference', binary, ['-s', socketPath, '-m', String(memory)], socketPath);
}

/** Where the venv's pyarrow keeps plasma-store-server; a clear error if the venv is not set up. */
export function checkPython(python: string): { referenceStore: string; pyarrow: string } {
  if (!fs.existsSync(python)) {
    throw new Error(`${python} is missing: run \`bash scripts/setup-python.sh\` (pyarrow 11 and the reference store), or pass --no-python`);
  }
  const out = execFileSync(
    python,
    ['-W', 'ignore', '-c', 'import os, pyarrow; print(pyarrow.__version__); print(os.path.join(pyarrow.__path__[0], "plasma-store-server"))'],
    { encoding: 'utf8' },
  ).trim();
  const [pyarrow, referenceStore] = out.split('\n') as [string, string];
  if (!fs.existsSync(referenceStore)) throw new Error(`pyarrow ${pyarrow} in ${python} has no plasma-store-server: the benchmarks need pyarrow 11`);
  return { referenceStore, pyarrow };
}

export interface BenchCluster {
  cluster: LocalCluster;
  sockets: string[];
  stop(): Promise<void>;
}

/** N local stores forming one cluster, transport forced; stopped and swept by the registry. */
export async function startCluster(nodes: number, memory: number, transport: 'shared' | 'copy', dir: string): Promise<BenchCluster> {
  let started: LocalCluster | null = null;
  const pids: number[] = [];
  const stop = defer(`${nodes}-node ${transport} cluster`, async () => {
    if (started) await started.close();
    for (const pid of pids) for (const file of regionFilesOf(pid)) fs.rmSync(file, { force: true });
  });
  try {
    started = await startLocalCluster({ nodes, memory, dir, transport, peerTimeoutMs: 5000 });
  } catch (error) {
    await stop();
    throw error;
  }
  for (const node of started.nodes) {
    trackChild(node.process);
    pids.push(node.process.pid!);
  }
  await waitForPeers(started, transport);
  return { cluster: started, sockets: started.nodes.map((n) => n.socketPath), stop };
}

/** Wait until every node reports every peer connected with the forced transport. */
async function waitForPeers(cluster: LocalCluster, transport: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const replies = await Promise.all(cluster.nodes.map((node) => queryStatus(node.address, cluster.access).catch(() => null)));
    const ready = replies.every(
      (reply) => reply !== null && reply.peers.length === cluster.nodes.length - 1 && reply.peers.every((p) => p.connected && p.transport === transport),
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`the ${cluster.nodes.length}-node cluster did not connect its peers (${transport}) within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The pyarrow driver (bench/py/plasma_bench.py): one Python process for the whole run, one JSON
 * command per line in, one JSON reply per line out; `PROGRESS n` lines on its stderr.
 */
export class PythonDriver {
  private readonly child: ChildProcess;
  private readonly stop: () => Promise<void>;
  private readonly replies: ((line: string | Error) => void)[] = [];
  private stderrTail = '';
  private onProgress: (objects: number) => void = () => undefined;

  constructor(python: string) {
    const script = path.join(REPO_ROOT, 'bench/py/plasma_bench.py');
    this.child = spawn(python, ['-W', 'ignore', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    trackChild(this.child);
    this.stop = defer('python driver', async () => {
      this.child.stdin!.end();
      await stopChild(this.child, 2000);
    });
    let pendingErr = '';
    let pendingOut = '';
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      pendingOut += text;
      const lines = pendingOut.split('\n');
      pendingOut = lines.pop()!;
      for (const line of lines) this.replies.shift()?.(line);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      pendingErr += text;
      const lines = pendingErr.split('\n');
      pendingErr = lines.pop()!;
      for (const line of lines) {
        const match = /^PROGRESS (\d+)$/.exec(line);
        if (match) this.onProgress(Number(match[1]));
        else this.stderrTail = (this.stderrTail + line + '\n').slice(-4000);
      }
    });
    this.child.once('exit', (code, signal) => {
      const error = new Error(`the pyarrow driver exited (code ${code}, signal ${signal}):\n${this.stderrTail.trim()}`);
      for (const reply of this.replies.splice(0)) reply(error);
    });
  }

  /** Send one command; resolves with its result, rejects with the driver's error. */
  request<T>(command: object, onProgress: (objects: number) => void = () => undefined): Promise<T> {
    this.onProgress = onProgress;
    return new Promise<T>((resolve, reject) => {
      if (this.child.exitCode !== null) return reject(new Error(`the pyarrow driver is not running:\n${this.stderrTail.trim()}`));
      this.replies.push((line) => {
        if (line instanceof Error) return reject(line);
        const reply = JSON.parse(line) as { ok: boolean; result?: T; error?: string };
        if (reply.ok) resolve(reply.result!);
        else reject(new Error(`pyarrow driver: ${reply.error}`));
      });
      this.child.stdin!.write(JSON.stringify(command) + '\n');
    });
  }

  close(): Promise<void> {
    return this.stop();
  }
}
