/**
 * Everything the harness starts registers its undo here: stores, clusters, Python drivers, temp
 * directories, region files. The registry runs on normal exit, on failure, and on Ctrl-C /
 * SIGTERM / SIGHUP, newest first; a last synchronous sweep on process 'exit' SIGKILLs any child
 * still alive and removes the region files it left in /dev/shm.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

type Undo = () => Promise<void> | void;

interface Entry {
  name: string;
  undo: Undo;
}

const entries: Entry[] = [];
const children = new Set<ChildProcess>();
/** Every pid ever tracked: a store killed mid-shutdown leaves its region file after it exits. */
const pids = new Set<number>();
const paths = new Set<string>();
let installed = false;
let interrupted: NodeJS.Signals | null = null;
let onInterrupt: (() => void) | null = null;

/** Register an undo action; returns a function that runs it now (once) and unregisters it. */
export function defer(name: string, undo: Undo): () => Promise<void> {
  const entry: Entry = { name, undo };
  entries.push(entry);
  return async () => {
    const index = entries.indexOf(entry);
    if (index < 0) return;
    entries.splice(index, 1);
    await entry.undo();
  };
}

/** Region files a store process leaves if it dies without cleaning up: plasmapool-NODE-PID-*.region. */
export function regionFilesOf(pid: number, dir = '/dev/shm'): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const pattern = new RegExp(`^plasmapool-.*-${pid}-[0-9a-f]+\\.region$`);
  return names.filter((name) => pattern.test(name)).map((name) => path.join(dir, name));
}

/** Remember a child process for the last-resort sweep (SIGKILL and region files on exit). */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  if (child.pid !== undefined) pids.add(child.pid);
  child.once('exit', () => children.delete(child));
}

/** Remember a file or directory to remove in the last-resort sweep. */
export function trackPath(target: string): void {
  paths.add(target);
}

export function untrackPath(target: string): void {
  paths.delete(target);
}

/** Stop a child: SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

let running: Promise<void> | null = null;

/**
 * Run every registered undo, newest first; errors are reported and do not stop the others. A
 * second caller while one runs (the main flow's finally and a signal handler) waits for the same.
 */
export function cleanupAll(): Promise<void> {
  running ??= (async () => {
    while (entries.length > 0) {
      const entry = entries.pop()!;
      try {
        await entry.undo();
      } catch (error) {
        process.stderr.write(`bench: cleanup of ${entry.name} failed: ${(error as Error).message}\n`);
      }
    }
  })().finally(() => {
    running = null;
  });
  return running;
}

function sweepSync(): void {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  const mine = new Set([...children].map((c) => c.pid));
  for (const pid of pids) {
    // A pid that is alive again and not our child belongs to someone else now: leave its files.
    if (!mine.has(pid) && fs.existsSync(`/proc/${pid}`)) continue;
    for (const file of regionFilesOf(pid)) fs.rmSync(file, { force: true });
  }
  for (const target of paths) fs.rmSync(target, { recursive: true, force: true });
}

/** The signal that interrupted the run, if any. */
export function interruptedBy(): NodeJS.Signals | null {
  return interrupted;
}

/**
 * Install the signal and exit handlers (once). `beforeCleanup` runs first on a signal (e.g. to
 * stop the progress bar so the messages are readable).
 */
export function installCleanupHandlers(beforeCleanup: () => void): void {
  onInterrupt = beforeCleanup;
  if (installed) return;
  installed = true;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      if (interrupted) {
        // A second Ctrl-C: stop waiting for graceful shutdowns.
        sweepSync();
        process.exit(130);
      }
      interrupted = signal;
      onInterrupt?.();
      process.stderr.write(`\nbench: ${signal}: stopping stores and removing what the run created…\n`);
      void cleanupAll().finally(() => {
        sweepSync();
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    });
  }
  process.on('exit', sweepSync);
}
