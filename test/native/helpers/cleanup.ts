/**
 * Cleanup for the native tests: every temp dir, /dev/shm file, child process and handle a test
 * registers is released after the test, pass or fail (/dev/shm is shared by everyone on the host).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch {
      // keep cleaning the rest
    }
  }
});

/** Run `cleanup` after the current test. */
export function onCleanup(cleanup: () => unknown): void {
  cleanups.push(cleanup);
}

/** A private temp dir under /tmp (short enough for socket paths), removed after the test. */
export function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-native-'));
  onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let shmCounter = 0;
/** A fresh /dev/shm/plasmapool-test-* path, unlinked after the test. */
export function shmPath(name: string): string {
  const file = `/dev/shm/plasmapool-test-${process.pid}-${shmCounter++}-${name}`;
  onCleanup(() => fs.rmSync(file, { force: true }));
  return file;
}

/** Number of open descriptors of this process. */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/** Start a helper script of this folder in a child Node process (TypeScript via tsx), killed after the test. */
export function forkHelper(script: string, args: string[] = [], options: { uid?: number; gid?: number } = {}): ChildProcess {
  const child = fork(path.join(here, script), args, {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    uid: options.uid,
    gid: options.gid,
  });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Resolve with the next IPC message of `child` that satisfies `accept`. */
export function nextMessage<T>(child: ChildProcess, accept: (m: any) => boolean = () => true, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`no message from child within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: any) => {
      if (accept(m)) done(null, m);
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(new Error(`child exited (code ${code}, signal ${signal}) before sending the message`));
    function done(error: Error | null, value?: T) {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve(value as T);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Resolve when `predicate()` holds, polling every few ms. */
export async function until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
