// `plasmapool cluster up` and `cluster status` end to end, as a user runs them.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cliPath, onCleanup, tempDir } from '../helpers/processes.js';
import { PyAgent, eventually, newId } from './agents.js';

const run = promisify(execFile);

function childPids(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** A store's region as its descriptor (the file itself is unlinked once the store has it open). */
function regionDescriptorOf(pid: number): { fd: string; target: string } | undefined {
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    if (/^\/dev\/shm\/plasmapool-.*\.region/.test(target)) return { fd: `/proc/${pid}/fd/${fd}`, target };
  }
  return undefined;
}

/** Region files of these stores still present in /dev/shm. */
function regionFilesOf(pids: number[]): string[] {
  return fs
    .readdirSync('/dev/shm')
    .filter((name) => name.startsWith('plasmapool-') && pids.some((pid) => name.includes(`-${pid}-`)))
    .map((name) => path.join('/dev/shm', name));
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('cluster: the cluster command', () => {
  it('10. cluster up starts 3 connected stores, status lists them, SIGTERM leaves nothing behind', async () => {
    const dir = path.join(tempDir(), 'cluster');
    const up = spawn(process.execPath, [cliPath, 'cluster', 'up', '--nodes', '3', '--memory', '64MiB', '--dir', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    up.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => up.once('exit', (code) => resolve(code)));
    let stores: number[] = [];
    onCleanup(async () => {
      if (up.exitCode === null && up.signalCode === null) up.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      for (const pid of stores) if (alive(pid)) process.kill(pid, 'SIGKILL');
      for (const file of regionFilesOf(stores)) fs.rmSync(file, { force: true });
    });

    const sockets = [0, 1, 2].map((i) => path.join(dir, `node-${i}.sock`));
    expect(await eventually(() => sockets.every((s) => fs.existsSync(s)) && stdout.includes('node-2'), 15_000), stderr).toBe(true);
    stores = childPids(up.pid!);
    expect(stores).toHaveLength(3);
    for (const socket of sockets) expect(stdout).toContain(socket);
    for (const socket of sockets) expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    // Each store holds its region open (0600); the file itself is already unlinked, so that not
    // even a SIGKILLed store could leave it behind.
    for (const pid of stores) {
      const region = regionDescriptorOf(pid);
      expect(region, `store ${pid} has no region descriptor`).toBeDefined();
      expect(region!.target).toMatch(/ \(deleted\)$/);
      expect(fs.statSync(region!.fd).mode & 0o777).toBe(0o600);
    }
    expect(regionFilesOf(stores)).toEqual([]);

    // Status: every node up, each seeing its 2 peers over the shared transport.
    let status = '';
    expect(
      await eventually(async () => {
        status = (await run(process.execPath, [cliPath, 'cluster', 'status', '--dir', dir]).catch((e: { stdout: string }) => e)).stdout;
        return (status.match(/shared/g) ?? []).length === 6;
      }, 10_000),
      status,
    ).toBe(true);
    const lines = status.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const [i, line] of lines.entries()) {
      expect(line).toMatch(new RegExp(`^node-${i}\\s+127\\.0\\.0\\.1:\\d+\\s+up\\s+capacity\\s+64\\.0 MiB`));
      expect(line).not.toContain('down');
    }

    // The cluster works through its sockets.
    const [onFirst, onLast] = await Promise.all([PyAgent.start(sockets[0]!), PyAgent.start(sockets[2]!)]);
    const id = newId();
    const put = await onFirst.must('put', { id, size: 12345 });
    expect((await onLast.must('get', { id, timeout_ms: 3000, hold: false })).sha256).toBe(put.sha256);
    await Promise.all([onFirst.kill(), onLast.kill()]);

    up.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of stores) expect(alive(pid), `store ${pid} still running`).toBe(false);
    expect(regionFilesOf(stores)).toEqual([]);
    for (const socket of sockets) expect(fs.existsSync(socket)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'cluster.json'))).toBe(false);
  });
});
