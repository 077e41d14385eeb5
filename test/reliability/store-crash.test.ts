/**
 * A store killed with SIGKILL at random points of a create/seal/delete storm, restarted on its
 * region each time: every object whose seal was acknowledged (and whose delete was not) comes
 * back byte-identical, objects in flight come back intact or not at all, nothing else appears,
 * and unsealed allocations are freed. Then the time to recover 100,000 objects.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ObjectId } from '../../src/protocol/object-id.js';
import { connectClient } from '../client/support.js';
import { onCleanup, repoRoot, startStoreProcess, tempDir } from '../helpers/processes.js';
import { report, scaled, seededRandom } from './scale.js';

const worker = path.join(repoRoot, 'test/reliability/workers/storm-client.mjs');

function pattern(id: ObjectId, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = id.bytes[i % 20]! ^ (i & 0xff);
  return bytes;
}

function regionFile(): string {
  const file = path.join('/dev/shm', `pp-reliability-${process.pid}-${crypto.randomBytes(4).toString('hex')}`);
  onCleanup(() => fs.rmSync(file, { force: true }));
  return file;
}

/** What the log says: sizes of every id whose seal began, and which seals and deletes were acknowledged. */
function readLog(file: string): { sizes: Map<string, number>; sealed: Set<string>; deleting: Set<string>; deleted: Set<string> } {
  const sizes = new Map<string, number>();
  const sealed = new Set<string>();
  const deleting = new Set<string>();
  const deleted = new Set<string>();
  const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  for (const line of text.split('\n')) {
    const [op, hex, size] = line.split(' ');
    if (op === 'S?') sizes.set(hex!, Number(size));
    else if (op === 'S') sealed.add(hex!);
    else if (op === 'D?') deleting.add(hex!);
    else if (op === 'D') deleted.add(hex!);
  }
  return { sizes, sealed, deleting, deleted };
}

function recoveryFigures(stderr: string): { objects: number; ms: number } {
  const line = stderr.split('\n').find((l) => l.includes('recovered the sealed objects'));
  return line ? (JSON.parse(line) as { objects: number; ms: number }) : { objects: 0, ms: 0 };
}

describe('store crash and recovery', () => {
  it('recovers every acknowledged object at every one of many random kill points', async () => {
    const killPoints = scaled(20, 100);
    const rand = seededRandom(Number(process.env.CRASH_SEED ?? 11));
    const region = regionFile();
    const args = ['--region', region, '--log-level', 'info'];
    const logFile = path.join(tempDir(), 'storm.log');
    let expectedTotal = 0;
    let recoveredTotal = 0;
    let inFlightSeen = 0;
    let maxRecoveryMs = 0;
    for (let round = 0; round < killPoints; round++) {
      const store = await startStoreProcess('256MiB', args);
      if (round > 0) {
        // Check what came back against the log of everything before this restart.
        const { sizes, sealed, deleting, deleted } = readLog(logFile);
        const reader = await connectClient(store.socketPath);
        const present = new Set((await reader.list()).map((o) => o.id.hex));
        const must = [...sealed].filter((hex) => !deleted.has(hex) && !deleting.has(hex));
        const missing = must.filter((hex) => !present.has(hex));
        expect(missing, `round ${round}: acknowledged objects missing after the crash`).toEqual([]);
        for (const hex of present) {
          expect(sizes.has(hex), `round ${round}: ${hex} was never created`).toBe(true);
          if (deleted.has(hex)) expect.fail(`round ${round}: ${hex} was deleted but came back`);
        }
        // Every object present is byte-identical to what its creator wrote.
        const ids = [...present].map((hex) => ObjectId.fromHex(hex));
        for (let i = 0; i < ids.length; i += 200) {
          const buffers = await reader.get(ids.slice(i, i + 200), { timeoutMs: 0 });
          buffers.forEach((buffer, k) => {
            const id = ids[i + k]!;
            expect(Buffer.from(buffer!.data).equals(pattern(id, sizes.get(id.hex)!)), `round ${round}: ${id.hex} bytes`).toBe(true);
            buffer!.release();
          });
        }
        // Unsealed allocations are gone: allocated bytes are exactly the present objects.
        const listedBytes = (await reader.list()).reduce((sum, o) => sum + o.dataSize + o.metadataSize, 0);
        expect(await reader.debugString()).toContain(`allocated bytes: ${listedBytes}\n`);
        expectedTotal += must.length;
        recoveredTotal += must.length - missing.length;
        inFlightSeen += [...present].filter((hex) => !sealed.has(hex)).length;
        maxRecoveryMs = Math.max(maxRecoveryMs, recoveryFigures(store.stderr()).ms);
        // Keep the live set small (an eviction would rightly drop acknowledged objects): carry 100
        // objects into the next round, and start its log from them.
        const listing = await reader.list();
        await reader.delete(listing.slice(100).map((o) => o.id));
        const keep = listing.slice(0, 100).map((o) => `S? ${o.id.hex} ${o.dataSize}\nS ${o.id.hex} ${o.dataSize}`);
        fs.writeFileSync(logFile, keep.length > 0 ? `${keep.join('\n')}\n` : '');
        reader.close();
      }
      const storm = spawn(process.execPath, [worker, store.socketPath, logFile, String(1 + Math.floor(rand() * 1e9))], { stdio: ['ignore', 'pipe', 'inherit'] });
      onCleanup(() => {
        storm.kill('SIGKILL');
      });
      await new Promise((resolve) => storm.stdout.once('data', resolve));
      await sleep(100 + Math.floor(rand() * 1200));
      await store.stop('SIGKILL');
      await new Promise((resolve) => (storm.exitCode !== null ? resolve(null) : storm.once('exit', resolve)));
    }
    report('store-crash', {
      killPoints,
      acknowledgedObjects: expectedTotal,
      recovered: recoveredTotal,
      recoveredPercent: expectedTotal === 0 ? 100 : +((100 * recoveredTotal) / expectedTotal).toFixed(2),
      inFlightObjectsRecovered: inFlightSeen,
      maxRecoveryMs,
    });
    expect(recoveredTotal).toBe(expectedTotal);
    expect(expectedTotal).toBeGreaterThan(killPoints);
  });

  it('recovers 100,000 objects within a second', async () => {
    const count = 100_000;
    const region = regionFile();
    const args = ['--region', region, '--log-level', 'info'];
    const first = await startStoreProcess('512MiB', args);
    const client = await connectClient(first.socketPath);
    for (let i = 0; i < count; i += 1000) {
      await client.createAndSealBatch(Array.from({ length: 1000 }, () => ({ id: ObjectId.random(), data: crypto.randomBytes(64) })));
    }
    client.close();
    await first.stop('SIGKILL');
    const second = await startStoreProcess('512MiB', args);
    const { objects, ms } = recoveryFigures(second.stderr());
    report('recovery-time', { objects, ms, msPer100k: Math.round((ms * 100_000) / Math.max(1, objects)) });
    expect(objects).toBe(count);
  });
});
