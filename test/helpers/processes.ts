/**
 * Real store processes for tests, with guaranteed cleanup: every store, socket directory and
 * region file a test starts is gone when the test ends, pass or fail (/dev/shm is shared).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/cluster/local-cluster.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = path.join(repoRoot, 'bin/plasmapool.js');

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // keep cleaning
    }
  }
});

/** Register something to undo after the current test. */
export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

/** A private temporary directory, removed after the test. */
export function tempDir(prefix = 'pp-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface StoreProcess {
  socketPath: string;
  regionPath: string;
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

function regionFilesOf(pid: number): string[] {
  return fs
    .readdirSync('/dev/shm')
    .filter((name) => name.startsWith('plasmapool-') && name.includes(`-${pid}-`))
    .map((name) => path.join('/dev/shm', name));
}

/** Start `plasmapool store` with these extra args; waits for its ready line. */
export async function startStoreProcess(memory = '64MiB', extraArgs: string[] = []): Promise<StoreProcess> {
  const dir = tempDir();
  const socketPath = path.join(dir, 'plasma.sock');
  const child = spawn(process.execPath, [cliPath, 'store', '-s', socketPath, '-m', memory, ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  onCleanup(async () => {
    await stop();
    for (const file of regionFilesOf(child.pid!)) fs.rmSync(file, { force: true });
  });
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (stdout.includes('plasmapool store ready')) return resolve();
      if (child.exitCode !== null) return reject(new Error(`store exited (${child.exitCode}): ${stderr}`));
      setTimeout(check, 20);
    };
    check();
  });
  const regionPath = /region (\S+?)(,|\s|$)/.exec(stdout)?.[1] ?? '';
  return { socketPath, regionPath, child, stdout: () => stdout, stderr: () => stderr, stop };
}

/** A local cluster of store processes, stopped after the test. */
export async function startTestCluster(options: Partial<LocalClusterOptions> & { nodes: number }): Promise<LocalCluster> {
  const dir = tempDir('pp-cluster-');
  const logs: string[] = [];
  const cluster = await startLocalCluster({
    memory: '64MiB',
    dir,
    onLog: (node, line) => logs.push(`[${node}] ${line}`),
    ...options,
  });
  onCleanup(async () => {
    const pids = cluster.nodes.map((n) => n.process.pid!);
    await cluster.close();
    for (const pid of pids) for (const file of regionFilesOf(pid)) fs.rmSync(file, { force: true });
  });
  return cluster;
}
