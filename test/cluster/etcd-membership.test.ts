// Membership and fencing on a real etcd (docs/cluster.md, "Membership on etcd" and "Fencing"):
// real etcd processes, real store processes, real sockets, the TypeScript client.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PlasmaClient } from '../../src/client/plasma-client.js';
import { PlasmaObjectExistsError, PlasmaStoreFullError } from '../../src/client/errors.js';
import { homeNodeOf } from '../../src/cluster/home-node.js';
import { readSecretFile } from '../../src/cluster/peer-auth.js';
import { queryStatus } from '../../src/cluster/status-client.js';
import type { StatusReply } from '../../src/cluster/peer-service.js';
import { ObjectId } from '../../src/protocol/object-id.js';
import { cliPath, onCleanup, startStoreProcess, tempDir } from '../helpers/processes.js';
import { runJson } from '../cli/run-cli.js';
import { etcdInstalled, startEtcd as startSharedEtcd, type Etcd } from '../helpers/etcd.js';

/** A real etcd on loopback (test/helpers/etcd.ts), removed after the test that started it. */
async function startEtcd(): Promise<Etcd> {
  const etcd = await startSharedEtcd();
  onCleanup(() => etcd.close());
  return etcd;
}

import {
  TTL,
  bytes,
  client,
  eventually,
  put,
  putEventually,
  read,
  secretFile,
  sleep,
  startNode,
  status,
  waitMembers,

} from '../helpers/etcd-stores.js';

describe.skipIf(!etcdInstalled())('cluster: membership on etcd', { timeout: 120_000 }, () => {
  it('registers, discovers peers by watch, admits a third store and lets a stopped one go', async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    const a = await startNode(etcd, 'a', secret);
    const b = await startNode(etcd, 'b', secret);
    await waitMembers([a, b], secret);
    const [onA, onB] = [await client(a), await client(b)];
    const first = ObjectId.random();
    await putEventually(onA, first, 1);
    expect(await read(onB, first)).toEqual(bytes(1));

    // A third store joins the running cluster: it reads what exists and others read its objects.
    const c = await startNode(etcd, 'c', secret);
    await waitMembers([a, b, c], secret);
    const onC = await client(c);
    expect(await read(onC, first)).toEqual(bytes(1));
    const fromC = ObjectId.random();
    await putEventually(onC, fromC, 3);
    expect(await read(onA, fromC)).toEqual(bytes(3));
    const status = await queryStatus(c.address, { secret: readSecretFile(secret) });
    expect(status.membership).toMatchObject({ dynamic: true, state: 'live', live: true, members: 3 });

    const onlyB = ObjectId.random();
    await putEventually(onB, onlyB, 2);
    expect(await read(onA, onlyB)).toEqual(bytes(2));

    // B stops: its registration goes at once (revoked), and the others drop it from their view.
    expect(await b.store.stop()).toBe(0);
    await waitMembers([a, c], secret);
    expect(await read(onA, first)).toEqual(bytes(1));
    // A get for an object only B held answers not-available at once instead of waiting.
    const started = Date.now();
    expect(await read(onC, onlyB, 20_000)).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses a name a live store has registered, with a clear error', async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    await startNode(etcd, 'same', secret);
    await expect(startNode(etcd, 'same', secret)).rejects.toThrow(/node name "same" is already registered at \/plasmapool\/members\/same by a live store/);
  });

  it('rejects bad etcd flags before starting', async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    const base = ['--node-name', 'x', '--listen', '127.0.0.1:0', '--etcd', etcd.url, '--secret-file', secret];
    await expect(startStoreProcess('64MiB', [...base, '--etcd-ttl', '1'])).rejects.toThrow(/--etcd-ttl must be a whole number of seconds, at least 2/);
    await expect(startStoreProcess('64MiB', [...base, '--peer', 'y=127.0.0.1:1'])).rejects.toThrow(/--etcd replaces --peer and --cluster/);
    await expect(startStoreProcess('64MiB', [...base.slice(0, 4), '--etcd', 'localhost', '--secret-file', secret])).rejects.toThrow(/invalid --etcd URL "localhost"/);
    await expect(startStoreProcess('64MiB', ['--node-name', 'x', '--listen', '0.0.0.0:0', '--insecure', '--etcd', etcd.url, '--secret-file', secret])).rejects.toThrow(
      /--listen 0.0.0.0:0 is not an address peers can use: pass --advertise/,
    );
  });
});

describe('cluster: membership changes hand claims over', { timeout: 120_000 }, () => {
  it('an id claimed (not sealed yet) on A whose home moves to a joining C is refused to B at C', async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    const a = await startNode(etcd, 'a', secret);
    const b = await startNode(etcd, 'b', secret);
    await waitMembers([a, b], secret);
    const [onA, onB] = [await client(a), await client(b)];
    // An id homed at A or B now and at C once C has joined: its claim must move to C with it.
    let id: ObjectId;
    do id = ObjectId.random();
    while (homeNodeOf(id.hex, ['a', 'b', 'c']) !== 'c');
    let buffer: Awaited<ReturnType<PlasmaClient['create']>> | null = null;
    await eventually('create on A', async () => {
      buffer = await onA.create(id, 4096);
      return true;
    });
    buffer!.data.set(bytes(60));

    const c = await startNode(etcd, 'c', secret);
    await waitMembers([a, b, c], secret);
    // B creates the same id: its claim goes to C, which learnt A's claim from A's hold.
    await expect(put(onB, id, 61)).rejects.toBeInstanceOf(PlasmaObjectExistsError);
    await onA.seal(id);
    buffer!.release();
    const onC = await client(c);
    expect(await read(onB, id)).toEqual(bytes(60));
    expect(await read(onC, id)).toEqual(bytes(60));
    const replies = await Promise.all([a, b, c].map((n) => status(n, secret)));
    expect(replies.map((r) => Number(r.membership!.duplicateIds))).toEqual([0, 0, 0]);
    expect(Number(replies[2]!.membership!.claimsDenied)).toBeGreaterThanOrEqual(1);
  });
});

describe('cluster: a leaving home hands over only after every member settled', { timeout: 120_000 }, () => {
  it("B, the new home of D's ids, grants none until A (paused) has handed over its claim", async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    // A long TTL: A is paused below for a second or two and must stay a member meanwhile.
    const [a, b, d] = await Promise.all(['a', 'b', 'd'].map((name) => startNode(etcd, name, secret, [], 6)));
    await waitMembers([a!, b!, d!], secret);
    const [onA, onB] = [await client(a!), await client(b!)];
    let id: ObjectId;
    do id = ObjectId.random();
    while (homeNodeOf(id.hex, ['a', 'b', 'd']) !== 'd' || homeNodeOf(id.hex, ['a', 'b']) !== 'b');
    let buffer: Awaited<ReturnType<PlasmaClient['create']>> | null = null;
    await eventually('create on A', async () => {
      buffer = await onA.create(id, 4096);
      return true;
    });
    buffer!.data.set(bytes(70));
    // Let A's claim at D complete first (it overlaps the client's write).
    await sleep(300);

    // A cannot send its holds while paused; D leaves, so the id's home moves to B.
    a!.store.child.kill('SIGSTOP');
    try {
      expect(await d!.store.stop()).toBe(0);
      await eventually('B sees D leave', async () => (await status(b!, secret)).membership?.members === 2, 5000);
      // B must not grant the id before A settled: the create fails (closed) instead of winning.
      await expect(put(onB, id, 71)).rejects.toBeInstanceOf(PlasmaObjectExistsError);
    } finally {
      a!.store.child.kill('SIGCONT');
    }
    await waitMembers([a!, b!], secret);
    // A's seal succeeds, unless its claim was still in flight when it was paused (a claim that
    // finds no answer within the peer timeout fails closed): then nobody has the id.
    const sealed = await onA.seal(id).then(
      () => true,
      (error: unknown) => {
        if (!(error instanceof PlasmaObjectExistsError)) throw error;
        return false;
      },
    );
    buffer!.release();
    const replies = await Promise.all([a!, b!].map((n) => status(n, secret)));
    expect(await read(onB, id, 500)).toEqual(sealed ? bytes(70) : null);
    expect(replies.map((r) => Number(r.membership!.duplicateIds))).toEqual([0, 0]);
    expect(Number(replies[1]!.membership!.claimsRetried), `${JSON.stringify(replies[1]!.membership)}\n${b!.store.stderr().slice(-3000)}`).toBeGreaterThan(0);
  });
});

describe('cluster: cluster up on etcd', { timeout: 120_000 }, () => {
  it('cluster up --etcd starts stores that find each other in etcd; status shows their membership', async () => {
    const etcd = await startEtcd();
    const dir = path.join(tempDir(), 'cluster');
    const up = spawn(process.execPath, [cliPath, 'cluster', 'up', '--nodes', '3', '--memory', '64MiB', '--dir', dir, '--etcd', etcd.url, '--etcd-prefix', '/test-up', '--departed-ttl-ms', '60000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    up.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    up.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => up.once('exit', resolve));
    onCleanup(async () => {
      if (up.exitCode === null) up.kill('SIGTERM');
      await exited;
    });
    await eventually('cluster up ready', async () => {
      if (up.exitCode !== null) throw new Error(`cluster up exited: ${stderr}`);
      return stdout.includes('plasmapool cluster up: 3 stores');
    }, 50_000);
    const { nodes } = await runJson<{ nodes: StatusReply[] }>(['cluster', 'status', '--dir', dir]);
    expect(nodes).toHaveLength(3);
    for (const node of nodes) {
      // Live unless starved past its TTL on a loaded machine since cluster up said ready.
      expect(node.membership).toMatchObject({ dynamic: true, members: 3 });
      if (Number(node.membership!.fences) === 0) expect(node.membership).toMatchObject({ state: 'live', live: true });
      expect(node.peers.every((p) => p.connected)).toBe(true);
    }
    // They are registered under the prefix given.
    const listed = await fetch(`${etcd.url}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/test-up/members/').toString('base64'), range_end: Buffer.from('/test-up/members0').toString('base64'), keys_only: true }),
    }).then((r) => r.json() as Promise<{ kvs?: { key: string }[] }>);
    expect((listed.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString()).sort()).toEqual([
      '/test-up/members/node-0',
      '/test-up/members/node-1',
      '/test-up/members/node-2',
    ]);
    // Every store got the flags cluster up forwards.
    const storeCommands = fs
      .readdirSync('/proc')
      .filter((pid) => /^\d+$/.test(pid))
      .map((pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        } catch {
          return [];
        }
      })
      .filter((argv) => argv.includes('store') && argv.some((arg) => arg.startsWith(`${dir}/node-`)));
    expect(storeCommands).toHaveLength(3);
    for (const argv of storeCommands) expect(argv[argv.indexOf('--departed-ttl-ms') + 1]).toBe('60000');
    // cluster status and ls find the stores through etcd as well (no cluster file).
    const viaEtcd = ['--etcd', etcd.url, '--etcd-prefix', '/test-up'];
    const fromEtcd = await runJson<{ nodes: (StatusReply & { up: boolean })[] }>(['cluster', 'status', ...viaEtcd, '--secret-file', path.join(dir, 'cluster.secret')]);
    expect(fromEtcd.nodes.map((n) => [n.node, n.up])).toEqual([['node-0', true], ['node-1', true], ['node-2', true]]);
    const listedByCli = await runJson<{ objects: unknown[]; failures: unknown[] }>(['cluster', 'ls', ...viaEtcd]);
    expect(listedByCli.failures).toEqual([]);
    await expect(runJson(['cluster', 'status', '--etcd', etcd.url, '--etcd-prefix', '/nothing-here', '--secret-file', path.join(dir, 'cluster.secret')])).rejects.toThrow(
      /no stores are registered under \/nothing-here\/members\/ in etcd/,
    );
    up.kill('SIGTERM');
    await exited;
  });
});

describe('cluster: fencing on etcd', { timeout: 120_000 }, () => {
  it('etcd stopped: every store refuses creates and keeps serving local objects; resumed: creates work again', async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    const a = await startNode(etcd, 'a', secret, ['--metrics', '127.0.0.1:0']);
    const b = await startNode(etcd, 'b', secret);
    await waitMembers([a, b], secret);
    const metricsUrl = /metrics (http:\/\/\S+)/.exec(a.store.stdout())![1]!;
    const metric = async (name: string) => {
      const text = await (await fetch(metricsUrl)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
      return Number(line?.split(' ').pop());
    };
    expect(await metric('plasmapool_cluster_live')).toBe(1);
    const [onA, onB] = [await client(a), await client(b)];
    const [idA, idB] = [ObjectId.random(), ObjectId.random()];
    await putEventually(onA, idA, 10);
    await putEventually(onB, idB, 11);

    etcd.pause();
    try {
      // Within the TTL every store knows it may not be a member any more.
      await eventually('both stores fenced', async () => {
        const replies = await Promise.all([status(a, secret), status(b, secret)]);
        return replies.every((r) => r.membership?.state === 'fenced' && r.membership.live === false);
      }, TTL * 1000 + 3000);
      for (const [c, seed] of [[onA, 20], [onB, 21]] as const) {
        await expect(put(c, ObjectId.random(), seed)).rejects.toBeInstanceOf(PlasmaStoreFullError);
      }
      // Local sealed objects are still served to local clients.
      expect(await read(onA, idA)).toEqual(bytes(10));
      expect(await read(onB, idB)).toEqual(bytes(11));
      const fenced = await status(a, secret);
      expect(Number(fenced.membership!.createsRefusedFenced)).toBeGreaterThan(0);
      expect(await metric('plasmapool_cluster_live')).toBe(0);
      expect(await metric('plasmapool_cluster_creates_refused_fenced_total')).toBeGreaterThan(0);
      expect(a.store.stderr()).toMatch(/cut off from etcd: this node is fenced/);
    } finally {
      etcd.resume();
    }
    // Back: both stores register again without a restart, and creates work on both.
    await waitMembers([a, b], secret);
    const after = ObjectId.random();
    await putEventually(onA, after, 30);
    expect(await read(onB, after)).toEqual(bytes(30));
    await putEventually(onB, ObjectId.random(), 31);
    // What existed before is readable everywhere again.
    expect(await read(onB, idA)).toEqual(bytes(10));
    expect(await read(onA, idB)).toEqual(bytes(11));
    const reply = await status(a, secret);
    expect(reply.membership!.fences).toBeGreaterThanOrEqual(1);
    expect(Number(reply.membership!.fencedMs)).toBeGreaterThan(0);
    expect(Number(reply.membership!.duplicateIds)).toBe(0);
  });

  it('a store cut off past its lease and past --departed-ttl-ms while others create the same id rejoins and keeps no duplicate', async () => {
    const etcd = await startEtcd();
    const secret = secretFile();
    // Tombstones of a departed member expire at once here: its ids may be created again while it is
    // away (test/cluster/partition-fencing.test.ts covers the default, where they are refused).
    const ttl = ['--departed-ttl-ms', '1'];
    const a = await startNode(etcd, 'a', secret, ttl);
    const b = await startNode(etcd, 'b', secret, ttl);
    const c = await startNode(etcd, 'c', secret, ttl);
    await waitMembers([a, b, c], secret);
    const [onA, onC] = [await client(a), await client(c)];
    const shared = ObjectId.random();
    const onlyC = ObjectId.random();
    await putEventually(onC, shared, 40);
    await putEventually(onC, onlyC, 41);
    expect(await read(onA, shared)).toEqual(bytes(40));

    // C stops (a one-sided cut: it cannot renew its lease) for longer than the TTL.
    c.store.child.kill('SIGSTOP');
    try {
      await waitMembers([a, b], secret);
      // Its objects are gone from the others' view: the id can be created again on A.
      await putEventually(onA, shared, 50);
    } finally {
      c.store.child.kill('SIGCONT');
    }
    // C fences itself on waking, registers again, re-claims: it loses `shared` and keeps `onlyC`.
    await waitMembers([a, b, c], secret);
    const reply = await status(c, secret);
    expect(Number(reply.membership!.reclaimLost)).toBe(1);
    expect(Number(reply.membership!.duplicateIds)).toBe(1);
    expect(c.store.stderr()).toMatch(/cut off from etcd/);
    // One object per id in the whole cluster: C reads A's `shared`, everyone reads C's `onlyC`.
    const listedOnC = (await onC.list()).map((o) => o.id.hex);
    expect(listedOnC).not.toContain(shared.hex);
    expect(await read(onC, shared)).toEqual(bytes(50));
    expect(await read(onA, onlyC)).toEqual(bytes(41));
    expect(await read(onA, shared)).toEqual(bytes(50));
  });
});
