/**
 * Named regions across restarts, and the start-up sweep of stale region files (issue 14, items
 * 8 and 9). Liveness is the owner's lock on its region, never a pid.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { cliPath, onCleanup, startStoreProcess, tempDir } from '../helpers/processes.js';

/** Run `plasmapool store` expecting it to fail; resolves with its exit code and stderr. */
function storeFails(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const dir = tempDir();
  const child = spawn(process.execPath, [cliPath, 'store', '-s', path.join(dir, 's.sock'), '-m', '16MiB', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  onCleanup(() => {
    child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

function regionFile(): string {
  const file = path.join('/dev/shm', `pp-test-region-${process.pid}-${Math.random().toString(16).slice(2)}`);
  onCleanup(() => fs.rmSync(file, { force: true }));
  return file;
}

describe('--region FILE', () => {
  it('restarts on its own region after a clean stop and after SIGKILL', async () => {
    const file = regionFile();
    for (const signal of ['SIGTERM', 'SIGKILL', 'SIGTERM'] as const) {
      const store = await startStoreProcess('16MiB', ['--region', file]);
      const client = await connectClient(store.socketPath);
      await client.createAndSeal(ObjectId.random(), new Uint8Array(100));
      client.close();
      await store.stop(signal);
      expect(fs.existsSync(file), 'a named region is kept').toBe(true);
    }
  });

  it('uses a pre-made file (empty, or zeros from truncate/fallocate)', async () => {
    for (const make of [(f: string) => fs.writeFileSync(f, ''), (f: string) => execFileSync('truncate', ['-s', '64M', f])]) {
      const file = regionFile();
      make(file);
      const store = await startStoreProcess('16MiB', ['--region', file]);
      const client = await connectClient(store.socketPath);
      await client.createAndSeal(ObjectId.random(), new Uint8Array(100));
    }
  });

  it('refuses a file holding other data, and a region a running store owns, naming why', async () => {
    const precious = regionFile();
    fs.writeFileSync(precious, 'somebody else\'s data');
    const refused = await storeFails(['--region', precious]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not a plasmapool region: refusing to overwrite it/);
    expect(fs.readFileSync(precious, 'utf8')).toBe('somebody else\'s data');

    const file = regionFile();
    const owner = await startStoreProcess('16MiB', ['--region', file]);
    const busy = await storeFails(['--region', file]);
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/in use by a running store/);
    // The running owner was not disturbed.
    const client = await connectClient(owner.socketPath);
    await client.createAndSeal(ObjectId.random(), new Uint8Array(10));
  });
});

describe('start-up sweep of stale region files', () => {
  it('removes an old unlocked file, and keeps one whose owner lives even if its pid looks dead here', async () => {
    const dir = tempDir();
    const stale = path.join(dir, 'plasmapool-gone-4000000-0123abcd.region');
    const held = path.join(dir, 'plasmapool-other-4000001-89abcdef.region');
    for (const file of [stale, held]) {
      fs.writeFileSync(file, 'x');
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(file, old, old);
    }
    // A live owner in "another PID namespace": pid 4000001 does not exist here, but the lock is held.
    const owner = spawn('flock', [held, 'sleep', '60'], { stdio: 'ignore' });
    onCleanup(() => {
      owner.kill('SIGKILL');
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await startStoreProcess('16MiB', ['-d', dir]);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(held)).toBe(true);
  });
});
