/**
 * Starting a test's programs somewhere: here (a plain child), or inside a test host
 * (hosts.ts) where a wrapper (nsenter) runs the program in the host's namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** A process started for a test: the handle we spawned and the pid of the program itself. */
export interface Launched {
  child: ChildProcess;
  /** The program's pid as this process sees it (not that of a wrapper such as nsenter). */
  pid: number;
}

/** How to start a program (stdin, stdout and stderr are pipes). */
export type Launcher = (command: string, args: string[]) => Promise<Launched>;

/** A plain child of this process. */
export const launchHere: Launcher = async (command, args) => {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', (error) => reject(new Error(`cannot start ${command}: ${error.message}`)));
  });
  return { child, pid: child.pid! };
};

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove what a helper made when the test file ends (afterAll, under vitest) and when this process
 * exits (synchronously). The helpers also serve benchmarks, which run without vitest.
 */
export async function removeWhenDone(closeAll: () => Promise<void>, closeAllNow: () => void): Promise<void> {
  if (process.env.VITEST) {
    const { afterAll } = await import('vitest');
    afterAll(closeAll);
  }
  process.once('exit', closeAllNow);
}
