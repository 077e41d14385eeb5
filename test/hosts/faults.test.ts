// Faults between hosts (test/helpers/hosts.ts), with membership on a real etcd in a host of its
// own: a cut link during creates and gets, its healing, a slow lossy link, etcd stopped and
// restarted, and a store killed while another host reads its memory over the fabric. Each test
// records what it saw in the fault table (fault-results.ts): time to detect, time to recover, and
// duplicate ids (holders of every id counted across all stores: must be 0).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { homeNodeOf } from '../../src/cluster/home-node.js';
import type { StatusReply } from '../../src/cluster/peer-service.js';
import { PyAgent, eventually, mappingsOf, newId, type AgentReply } from '../cluster/agents.js';
import { startEtcd, type Etcd } from '../helpers/etcd.js';
import type { Host } from '../helpers/hosts.js';
import { recordFault } from './fault-results.js';
import { agentOn, hostsSkipReason, testCluster, testHosts, type HostCluster, type HostStore } from './host-stores.js';

const membership = 'etcd' as const;
/** --etcd-ttl: a cut-off store fences itself, and its registration expires, within this. */
const TTL_SECONDS = 3;
const PEER_TIMEOUT_MS = 750;

/** For every id: how many stores hold it sealed (a store's `list` names its own objects only). */
async function holders(agents: readonly PyAgent[], ids: readonly string[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const agent of agents) {
    const objects = (await agent.must('list')).objects as Record<string, { state: string }>;
    for (const [id, info] of Object.entries(objects)) {
      if (info.state === 'sealed' && result.has(id)) result.get(id)!.push(agent.socketPath);
    }
  }
  return result;
}

function duplicates(held: Map<string, string[]>): string[] {
  return [...held].filter(([, at]) => at.length > 1).map(([id]) => id);
}

/** Hosts with a store each (members on etcd, which runs in host "etcd"), connected. */
async function storesOnEtcd(names: readonly string[], options: { fabric?: boolean } = {}) {
  const hosts = await testHosts({ hosts: [...names, 'etcd'], fabric: options.fabric ? [...names] : undefined });
  const etcdHost = hosts.host('etcd');
  const etcd = await startEtcd({ host: etcdHost.address, launch: etcdHost.launch });
  const cluster = await testCluster(hosts);
  const stores = await cluster.startOnEtcd(hosts.list.filter((h) => h !== etcdHost), [etcd.url], (host) => ({
    extraArgs: ['--etcd-ttl', String(TTL_SECONDS)],
    leaseMs: 3000,
    // Gets and creates that need an unreachable peer give up after this: under the 1 s the issue asks.
    peerTimeoutMs: PEER_TIMEOUT_MS,
    ...(options.fabric ? { region: path.join(hosts.fabricDir!, `${host.name}.region`) } : {}),
  }));
  await cluster.waitConnected(stores);
  return { hosts, etcd, cluster, stores };
}

async function threeHosts() {
  const { hosts, etcd, cluster, stores } = await storesOnEtcd(['a', 'b', 'c']);
  const [a, b, c] = stores as [HostStore, HostStore, HostStore];
  return { hosts, etcd, cluster, stores, a, b, c };
}

/** Names registered in etcd (the stores' lease-bound member keys). */
async function registered(cluster: HostCluster, etcd: Etcd): Promise<string[]> {
  const prefix = '/plasmapool/members/';
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const reply = await cluster.control.etcd<{ kvs?: { key: string }[] }>(etcd.url, '/v3/kv/range', {
    key: b64(prefix),
    range_end: b64(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)),
    keys_only: true,
  });
  return (reply.kvs ?? []).map((kv) => Buffer.from(kv.key, 'base64').toString().slice(prefix.length)).sort();
}

/** `call`, or an error naming it and the stores' last log lines if it takes over 20 s (a hang). */
async function bounded<T>(call: Promise<T>, what: string, stores: readonly HostStore[]): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const logs = stores.map((store) => `${store.name}: ${store.stderr().split('\n').slice(-8).join('\n')}`).join('\n');
      reject(new Error(`${what} did not answer within 20 s\n${logs}`));
    }, 20_000);
  });
  try {
    return await Promise.race([call, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** ms until `check` holds (polled), or throws naming `what`. */
async function timeUntil(what: string, check: () => Promise<boolean>, ms = 30_000): Promise<number> {
  const started = performance.now();
  const ok = await eventually(async () => {
    try {
      return await check();
    } catch {
      return false;
    }
  }, ms);
  if (!ok) throw new Error(`${what}: not within ${ms} ms`);
  return performance.now() - started;
}

async function peerConnected(cluster: HostCluster, at: HostStore, peer: Host): Promise<boolean> {
  const status = await cluster.status(at, 800);
  return status.peers.some((p) => p.node === peer.name && p.connected);
}

describe.skipIf(hostsSkipReason !== null)(`hosts: faults${hostsSkipReason ? ` (skipped: ${hostsSkipReason})` : ''}`, { timeout: 180_000 }, () => {
  it('a host\'s link cut during creates and gets, then healed: gets needing it fail fast, no id is held twice, its lease expires, it rejoins without a restart', async () => {
    const { hosts, etcd, cluster, stores, a, b, c } = await threeHosts();
    const [onA, onB, onC, getterA] = await Promise.all([agentOn(a), agentOn(b), agentOn(c), agentOn(a)]);
    const names = stores.map((s) => s.name);
    expect(await registered(cluster, etcd)).toEqual(['a', 'b', 'c']);
    // Objects owned by c and by a, seen by everyone.
    const ownedByC = Array.from({ length: 6 }, newId);
    const ownedByA = Array.from({ length: 6 }, newId);
    const sha = new Map<string, string>();
    for (const id of ownedByC) sha.set(id, (await onC.must('put', { id, size: 2000 })).sha256 as string);
    for (const id of ownedByA) sha.set(id, (await onA.must('put', { id, size: 2000 })).sha256 as string);
    for (const id of [...ownedByC, ...ownedByA]) expect((await onB.must('get', { id, timeout_ms: 5000, hold: false })).found).toBe(true);

    // Ids that a and c will both try to create during the cut, homed everywhere.
    const contested = Array.from({ length: 12 }, newId);
    expect(new Set(contested.map((id) => homeNodeOf(id, names))).size).toBe(3);
    // Objects c sealed before the cut whose ids are homed at a or b: their claims live there. Once
    // c is out of the membership, a and b try to create them again.
    const sealedByCBefore: string[] = [];
    while (sealedByCBefore.length < 6) {
      const id = newId();
      if (homeNodeOf(id, names) === 'c') continue;
      await onC.must('put', { id, size: 300 });
      sealedByCBefore.push(id);
    }

    hosts.host('c').cut();
    const cutAt = performance.now();
    const detect = timeUntil('a notices c is gone', async () => !(await peerConnected(cluster, a, hosts.host('c'))), 15_000).catch(() => null);
    const leaseGone = timeUntil('c\'s registration expires in etcd', async () => !(await registered(cluster, etcd)).includes('c'), 15_000).catch(() => null);
    // Creates on both sides of the cut, at the same time, of the same ids.
    const creates = (agent: PyAgent, ids: readonly string[]) =>
      (async () => {
        const outcomes: AgentReply[] = [];
        for (const id of ids) outcomes.push(await agent.call('put', { id, size: 500 }));
        return outcomes;
      })();
    const [fromA, fromC] = [creates(onA, contested), creates(onC, contested)];
    // Gets on a that need c (its objects): answered within 1 s, not found.
    const gets: number[] = [];
    for (const id of ownedByC.slice(0, 3)) {
      const started = performance.now();
      const got = await getterA.must('get', { id, timeout_ms: 5000, hold: false });
      gets.push(performance.now() - started);
      expect(got.found, `get of c's ${id} during the cut`).toBe(false);
    }
    // Gets that do not need c keep working.
    for (const id of ownedByA) expect((await onB.must('get', { id, timeout_ms: 2000, hold: false })).found).toBe(true);
    const [detectMs, leaseMs] = await Promise.all([detect, leaseGone]);
    const [resultsA, resultsC] = await Promise.all([fromA, fromC]);
    const sealedDuringCut = [resultsA, resultsC].map((results) => results.filter((r) => r.ok).length);
    // After c left the membership: both sides create more ids (c is fenced: it must refuse), and a
    // and b try to create the ids c held before the cut.
    const contested2 = Array.from({ length: 6 }, newId);
    const [afterA, afterC] = await Promise.all([creates(onA, contested2), creates(onC, contested2)]);
    const fencedErrors = [...new Set(afterC.filter((r) => !r.ok).map((r) => `${r.error}: ${r.message}`))];
    const recreated: AgentReply[] = [];
    for (const id of sealedByCBefore) recreated.push(await (homeNodeOf(id, ['a', 'b']) === 'a' ? onA : onB).call('put', { id, size: 300 }));
    // Gets of c's objects once it is known gone: at once.
    const started = performance.now();
    expect((await getterA.must('get', { id: ownedByC[4]!, timeout_ms: 3000, hold: false })).found).toBe(false);
    const getAfterDetectMs = performance.now() - started;
    gets.push(getAfterDetectMs);

    // Heal: c rejoins without a restart, every surviving object is readable everywhere.
    hosts.host('c').heal();
    const healedAt = performance.now();
    let lastReplies: unknown[] = [];
    const reconnectMs = await timeUntil('the cluster reconnects after the heal', async () => {
      lastReplies = await Promise.all(stores.map((s) => cluster.status(s, 800).catch((error: Error) => error.message)));
      return lastReplies.every((r) => typeof r === 'object' && (r as StatusReply).peers.length === 2 && (r as StatusReply).peers.every((p) => p.connected) && (r as StatusReply).membership?.live !== false);
    }).catch((error: Error) => {
      throw new Error(`${error.message}: ${JSON.stringify(lastReplies)}\nc: ${c.stderr().slice(-3000)}`);
    });
    const rejoinStatus = await cluster.status(c);
    // Rejoined: give the re-claims of c's objects a moment to settle, then count holders before
    // anyone reads them (a copy-transport read leaves a replica, a legitimate second holder).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const checked = [...contested, ...contested2, ...sealedByCBefore];
    const held = await holders([onA, onB, onC], checked);
    const dupes = duplicates(held);
    const reported = (await Promise.all(stores.map((s) => cluster.status(s)))).reduce((n, r) => n + Number(r.membership?.duplicateIds ?? 0), 0);
    const survivors = [...[...held].filter(([, at]) => at.length > 0).map(([id]) => id), ...ownedByA, ...ownedByC];
    recordFault({
      fault: 'link cut during creates and gets',
      membership,
      observed:
        `a saw c leave after ${Math.round(detectMs ?? NaN)} ms, c's registration expired in etcd after ${Math.round(leaseMs ?? NaN)} ms; ` +
        `gets needing c answered not-found in ${gets.map((g) => Math.round(g)).join('/')} ms; ` +
        `${contested.length} ids created on both sides during the cut: ${sealedDuringCut.join(' + ')} sealed; ` +
        `after c left: ${afterA.filter((r) => r.ok).length}/${contested2.length} creates on a sealed, ${afterC.filter((r) => r.ok).length}/${contested2.length} on the fenced c (${fencedErrors.join('; ') || 'no error'}); ` +
        `${recreated.filter((r) => r.ok).length}/${recreated.length} ids c held were created again on a/b; ` +
        `c fenced ${rejoinStatus.membership?.fences ?? '?'} time(s); ` +
        `ids sealed on both sides during the partition (the stores' duplicate-id counters): ${reported}, ` +
        `held twice after the heal: ${dupes.length} (c dropped ${rejoinStatus.membership?.reclaimLost ?? '?'} objects whose re-claim it lost)`,
      detectMs,
      recoverMs: null,
      // Ids two stores held sealed at once, at any time: during the partition (the stores count
      // them when they meet again) or after the heal (counted here from every store's list).
      duplicateIds: Math.max(reported, dupes.length),
      figures: {
        maxGetMs: Math.round(Math.max(...gets)),
        leaseExpiredMs: Math.round(leaseMs ?? -1),
        sealedOnA: sealedDuringCut[0]!,
        sealedOnC: sealedDuringCut[1]!,
        createsRefusedFenced: Number(rejoinStatus.membership?.createsRefusedFenced ?? -1),
        reclaimLost: Number(rejoinStatus.membership?.reclaimLost ?? -1),
      },
    });
    // Fresh clients: pyarrow keeps a stale entry for an id whose seal it saw refused.
    const readers = await Promise.all(stores.map((store) => agentOn(store)));
    // Recovered when every surviving object reads back from every host (retried up to 30 s).
    let pending = survivors.flatMap((id) => readers.map((reader) => ({ id, reader })));
    const wrong: string[] = [];
    await eventually(async () => {
      const still: typeof pending = [];
      for (const { id, reader } of pending) {
        const got = await reader.must('get', { id, timeout_ms: 500, hold: false });
        if (got.found && sha.has(id) && got.sha256 !== sha.get(id)) wrong.push(`${id} from ${reader.socketPath}`);
        else if (!got.found) still.push({ id, reader });
      }
      pending = still;
      return pending.length === 0;
    }, 30_000);
    const recoverMs = performance.now() - healedAt;
    const unreadable = [...wrong, ...pending.map(({ id, reader }) => `${id} from ${reader.socketPath}`)];
    recordFault({
      fault: 'link healed',
      membership,
      observed:
        `c rejoined without restart (all connected and live after ${Math.round(reconnectMs)} ms); ` +
        `${survivors.length * 3 - unreadable.length} of ${survivors.length * 3} reads of the ${survivors.length} surviving objects from all 3 hosts succeeded`,
      detectMs: null,
      recoverMs,
      duplicateIds: dupes.length,
    });
    // After the heal no id is held twice (and during the partition neither: see the test below).
    expect(dupes).toEqual([]);
    expect(unreadable).toEqual([]);
    expect(detectMs).not.toBeNull();
    expect(leaseMs).not.toBeNull();
    expect(afterC.every((r) => !r.ok)).toBe(true);
    for (const ms of gets) expect(ms).toBeLessThan(1000);
  });

  // A new home must not grant ids that a departed (cut-off, not yet rejoined) member still holds:
  // `before` are refused through the tombstones of c's claims and events, `during` (self-homed at c)
  // are never sealed, because c cannot record them at their successor a (docs/cluster.md, "Tombstones
  // of departed members"). Without either fix both sides held those ids sealed (6 per run).
  it('no id is ever sealed on both sides of a partition: ids a cut-off member holds are not granted again elsewhere', async () => {
    const { hosts, cluster, stores } = await storesOnEtcd(['a', 'c']);
    const [a, c] = stores as [HostStore, HostStore];
    const [onA, onC] = await Promise.all([agentOn(a), agentOn(c)]);
    const names = ['a', 'c'];
    const idsHomed = (home: string, n: number) => {
      const ids: string[] = [];
      while (ids.length < n) {
        const id = newId();
        if (homeNodeOf(id, names) === home) ids.push(id);
      }
      return ids;
    };
    // Sealed by c before the cut, claimed at a; and sealed by c right after the cut, at home on c.
    const before = idsHomed('a', 3);
    for (const id of before) await onC.must('put', { id, size: 100 });
    hosts.host('c').cut();
    const during = idsHomed('c', 3);
    const sealedDuring = [];
    for (const id of during) if ((await onC.call('put', { id, size: 100 })).ok) sealedDuring.push(id);
    await timeUntil('a notices c is gone', async () => !(await peerConnected(cluster, a, hosts.host('c'))), 15_000);
    const createdAgain = [];
    for (const id of [...before, ...sealedDuring]) if ((await onA.call('put', { id, size: 100 })).ok) createdAgain.push(id);
    hosts.host('c').heal();
    await cluster.waitConnected(stores, 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const reported = (await Promise.all(stores.map((s) => cluster.status(s)))).reduce((n, r) => n + Number(r.membership?.duplicateIds ?? 0), 0);
    expect({ sealedDuring: sealedDuring.length, createdAgain, reported }).toEqual({ sealedDuring: sealedDuring.length, createdAgain: [], reported: 0 });
  });

  it('every host\'s link delayed 5 ms with 1 % loss (netem): creates, gets and copies all still work', async () => {
    const { hosts, stores } = await threeHosts();
    const agents = await Promise.all(stores.map((store) => agentOn(store)));
    const round = async () => {
      const sha = new Map<string, string>();
      const ids = agents.map(() => [] as string[]);
      const started = performance.now();
      for (let i = 0; i < 10; i++) {
        for (const [n, agent] of agents.entries()) {
          const id = newId();
          const reply = await bounded(agent.call('put', { id, size: i === 0 ? 1 << 20 : 2000 }), `put on ${agent.socketPath}`, stores);
          if (reply.ok) sha.set(id, reply.sha256 as string);
          ids[n]!.push(id);
        }
      }
      const createMs = (performance.now() - started) / (10 * agents.length);
      const getTimes: number[] = [];
      let failures = 0;
      const failed: string[] = [];
      const wrong: string[] = [];
      const unreadable: string[] = [];
      for (const [n, agent] of agents.entries()) {
        // Each host reads the objects of the next one (copy transport).
        for (const id of ids[(n + 1) % agents.length]!) {
          // A lost packet can cost a get its peer timeout (a fresh data connection whose SYN is
          // lost waits 1 s to retransmit): count first tries that failed, retry twice, and require
          // the right bytes in the end.
          for (let attempt = 0; attempt < 3; attempt++) {
            const got = await bounded(agent.must('get', { id, timeout_ms: 5000, hold: false }), `get on ${agent.socketPath}`, stores);
            if (attempt === 0) getTimes.push(got.elapsed_ms as number);
            if (got.found && got.sha256 !== sha.get(id)) wrong.push(`${id} on ${agent.socketPath}: wrong bytes`);
            if (got.found) break;
            failures++;
            failed.push(`${id} on ${agent.socketPath}: not found after ${Math.round(got.elapsed_ms as number)} ms (try ${attempt + 1})`);
            if (attempt === 2) unreadable.push(id);
          }
        }
      }
      getTimes.sort((x, y) => x - y);
      const all = ids.flat();
      return { created: sha.size, attempted: all.length, failures, createMs, medianGetMs: getTimes[getTimes.length >> 1]!, maxGetMs: getTimes.at(-1)!, ids: all, failed, wrong, unreadable };
    };
    const clean = await round();
    for (const host of hosts.list) await host.delay({ delayMs: 5, lossPercent: 1 });
    const delayed = await round();
    // The same ids created on a and b at once, over the lossy links: exactly one seal each.
    const contested = Array.from({ length: 12 }, newId);
    const race = await Promise.all(agents.slice(0, 2).map(async (agent) => {
      const won: string[] = [];
      for (const id of contested) if ((await bounded(agent.call('put', { id, size: 300 }), `contested put on ${agent.socketPath}`, stores)).ok) won.push(id);
      return won;
    }));
    for (const host of hosts.list) await host.undelay();
    const held = await holders(agents, contested);
    const dupes = duplicates(held);
    const lost = [...held].filter(([, at]) => at.length === 0).length;
    recordFault({
      fault: 'netem delay 5 ms + loss 1 % on every host',
      membership,
      observed:
        `${delayed.created}/${delayed.attempted} creates sealed; ${delayed.failures} of ${delayed.attempted} remote gets failed at the first try (peer timeout ${PEER_TIMEOUT_MS} ms), ${delayed.unreadable.length} still after 2 retries; ` +
        `${contested.length} ids created on two hosts at once: ${race[0]!.length} + ${race[1]!.length} won, ${lost} won by neither; ` +
        `create+seal ${delayed.createMs.toFixed(1)} ms (clean ${clean.createMs.toFixed(1)}), remote get median ${delayed.medianGetMs.toFixed(1)} ms, max ${delayed.maxGetMs.toFixed(0)} ms (clean ${clean.medianGetMs.toFixed(1)} / ${clean.maxGetMs.toFixed(0)})`,
      detectMs: null,
      recoverMs: null,
      duplicateIds: dupes.length,
      figures: { firstTryFailedGets: delayed.failures, createMs: Number(delayed.createMs.toFixed(2)), medianGetMs: Number(delayed.medianGetMs.toFixed(2)), cleanCreateMs: Number(clean.createMs.toFixed(2)), cleanMedianGetMs: Number(clean.medianGetMs.toFixed(2)) },
    });
    expect(clean.failures + (clean.attempted - clean.created)).toBe(0);
    expect(delayed.created).toBe(delayed.attempted);
    expect(delayed.wrong).toEqual([]);
    expect(delayed.unreadable).toEqual([]);
    expect(dupes).toEqual([]);
  });

  it('a store SIGKILLed while another host reads its memory over the fabric: readers get not-found, nothing crashes, a restart on the same region recovers', async () => {
    const { hosts, cluster, stores } = await storesOnEtcd(['a', 'b'], { fabric: true });
    const [a, b] = stores;
    expect((await cluster.status(b!)).peers[0]!.transport).toBe('shared');
    const [onA, holder, reader] = await Promise.all([agentOn(a!), agentOn(b!), agentOn(b!)]);
    const sha = new Map<string, string>();
    const ids = Array.from({ length: 8 }, newId);
    for (const id of ids) sha.set(id, (await onA.must('put', { id, size: 1 << 20 })).sha256 as string);
    // b's client holds two of them: mapped in place from the fabric.
    for (const id of ids.slice(0, 2)) expect((await holder.must('get', { id, timeout_ms: 5000 })).sha256).toBe(sha.get(id));
    expect(mappingsOf(holder.maps(), a!.regionPath).length).toBeGreaterThan(0);

    // A reader on b keeps getting a's objects while a's store is killed.
    let reading = true;
    const outcomes: { at: number; found: boolean; ok: boolean; error?: string }[] = [];
    const readLoop = (async () => {
      for (let i = 0; reading; i++) {
        const id = ids[2 + (i % 6)]!;
        const reply = await reader.call('get', { id, timeout_ms: 1000, hold: false });
        outcomes.push({ at: performance.now(), found: reply.found === true, ok: reply.ok, error: reply.error });
        if (reply.found && reply.sha256 !== sha.get(id)) throw new Error(`wrong bytes for ${id}`);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    a!.proc.signal('SIGKILL');
    const killedAt = performance.now();
    await a!.proc.exited;
    onA.kill();
    const detectMs = await timeUntil('b notices a is gone', async () => !(await peerConnected(cluster, b!, hosts.host('a'))), 10_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    reading = false;
    await readLoop;
    const after = outcomes.filter((o) => o.at > killedAt + detectMs);
    // Clear answers, no crash: the reader's gets answer not-found (pyarrow: None), the store and client live on.
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((o) => o.ok && !o.found)).toBe(true);
    expect(b!.running).toBe(true);
    // b creates again once a's lease expired. Until then every create on b fails closed: ids homed
    // at a need a as home, ids homed at b need a as successor (docs/cluster.md, "Successor records").
    let own = '';
    await timeUntil('b creates again (a left the view)', async () => {
      const id = newId();
      const ok = (await reader.call('put', { id, size: 100 })).ok;
      if (ok) own = id;
      return ok;
    }, TTL_SECONDS * 1000 + 10_000);
    expect((await holder.must('get', { id: own, timeout_ms: 1000, hold: false })).found).toBe(true);
    // What b's client still holds stays readable: the fabric file outlives the store.
    for (const id of ids.slice(0, 2)) expect((await holder.must('hash', { id })).ok).toBe(true);

    // a restarts on the same region: it recovers its sealed objects, b reads them again. Its old
    // registration lives until its lease expires: until then etcd refuses the name, and we retry.
    const restartedAt = performance.now();
    let attempts = 0;
    for (;;) {
      attempts++;
      try {
        await a!.start();
        break;
      } catch (error) {
        if (!/already registered/.test((error as Error).message) || performance.now() - restartedAt > 15_000) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    const fresh = await agentOn(b!);
    await timeUntil('b reads a\'s objects again', async () => {
      for (const id of ids.slice(2)) {
        const got = await fresh.must('get', { id, timeout_ms: 200, hold: false });
        if (!got.found || got.sha256 !== sha.get(id)) return false;
      }
      return true;
    });
    const recoverMs = performance.now() - restartedAt;
    const slowest = Math.max(...after.map((o, i) => (i === 0 ? o.at - killedAt : o.at - after[i - 1]!.at)));
    recordFault({
      fault: 'SIGKILL of a store while another host reads its memory over the fabric',
      membership,
      observed:
        `${after.length} gets after the kill answered not-found (no exception, store and client alive; slowest ${Math.round(slowest)} ms); ` +
        `held buffers stayed readable; restarted on the same region (${attempts === 1 ? 'first start' : `${attempts} starts: the name is refused until the old lease expires`}), it recovered its ${ids.length} objects`,
      detectMs,
      recoverMs,
      duplicateIds: 0,
    });
  });

  it('etcd stopped: stores keep serving local objects and refuse creates; etcd restarted on its data: the cluster recovers', async () => {
    const { etcd, cluster, stores } = await storesOnEtcd(['a', 'b']);
    const [a, b] = stores as [HostStore, HostStore];
    const [onA, onB] = await Promise.all([agentOn(a), agentOn(b)]);
    const local = Array.from({ length: 4 }, newId);
    const remote = Array.from({ length: 4 }, newId);
    for (const id of local) await onA.must('put', { id, size: 1000 });
    for (const id of remote) await onB.must('put', { id, size: 1000 });
    for (const id of remote) expect((await onA.must('get', { id, timeout_ms: 3000, hold: false })).found).toBe(true);

    await etcd.stop();
    const stoppedAt = performance.now();
    // Until the lease runs out the stores may still create; then they fence and refuse.
    const refusals: AgentReply[] = [];
    const detectMs = await timeUntil('a refuses creates without etcd', async () => {
      const reply = await onA.call('put', { id: newId(), size: 100 });
      if (!reply.ok) refusals.push(reply);
      return !reply.ok;
    }, TTL_SECONDS * 1000 + 5000);
    const status = await cluster.status(a);
    // Local objects are still served, as are the copies of b's objects a already holds.
    for (const id of local) expect((await onA.must('get', { id, timeout_ms: 1000, hold: false })).found, `local ${id}`).toBe(true);
    const remoteServed = (await Promise.all(remote.map((id) => onA.must('get', { id, timeout_ms: 1000, hold: false })))).filter((r) => r.found).length;
    // b lost etcd too: it fences as well (its keep-alives run on their own schedule).
    await timeUntil('b refuses creates without etcd', async () => !(await onB.call('put', { id: newId(), size: 100 })).ok, TTL_SECONDS * 1000 + 5000);
    await new Promise((resolve) => setTimeout(resolve, 1000));

    const restartAt = performance.now();
    await etcd.restart();
    const recoverMs = await timeUntil('both stores create again', async () => {
      const [onAOk, onBOk] = await Promise.all([onA.call('put', { id: newId(), size: 100 }), onB.call('put', { id: newId(), size: 100 })]);
      return onAOk.ok === true && onBOk.ok === true;
    });
    const replies = await cluster.waitConnected(stores);
    const fresh = newId();
    await onB.must('put', { id: fresh, size: 100 });
    expect((await onA.must('get', { id: fresh, timeout_ms: 3000, hold: false })).found).toBe(true);
    const reported = replies.reduce((n, r) => n + Number(r.membership?.duplicateIds ?? 0), 0);
    recordFault({
      fault: 'etcd stopped, then restarted on its data',
      membership,
      observed:
        `creates refused ${Math.round(detectMs)} ms after etcd stopped (${refusals[0]?.error}: ${refusals[0]?.message}; store state ${status.membership?.state}); ` +
        `local objects served throughout, ${remoteServed}/${remote.length} of the peer's objects (already copied) too; ` +
        `after the restart (${Math.round(performance.now() - restartAt)} ms ago) both stores create and see each other's new objects`,
      detectMs,
      recoverMs,
      duplicateIds: reported,
      figures: { stoppedForMs: Math.round(restartAt - stoppedAt) },
    });
    expect(status.membership?.state).toBe('fenced');
    expect(reported).toBe(0);
  });
});
