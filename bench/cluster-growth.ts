/**
 * What the cluster's metadata costs as it grows (issue 13, docs/cluster.md "Cost as it grows"):
 * for 2, 4 and 8 hosts (Linux namespaces: test/helpers/hosts.ts, one store per host),
 *
 * - metadata messages and bytes per seal, counted from outside: packets and bytes every host sent
 *   on its link (the switch ports' rx counters in /sys/class/net/…/statistics) while pyarrow
 *   clients on every host create and seal small objects, minus the idle traffic of the same
 *   cluster over the same time (measured just before);
 * - directory memory per remote object: resident anonymous memory (RssAnon) of a peer store
 *   before and after each of three steps of 10,000 objects another host seals (the slope of the
 *   later steps: the first one also grows the heap's reservations).
 *
 * Prints a table and a linear projection to 64 and 512 nodes, and writes
 * bench/results/cluster-growth.json.
 *
 *   sudo npm run bench:cluster-growth [-- --nodes 2,4,8 --seals 2000 --objects 10000 --etcd]
 *
 * Needs root (namespaces). With --etcd the stores take their membership from a real etcd in a
 * host of its own (needs `plasmapool store --etcd`); otherwise from static --peer flags.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostCluster, type HostStore } from '../test/helpers/host-cluster.js';
import { createHosts, hostsUnavailableReason, type Host, type Hosts } from '../test/helpers/hosts.js';
import { startEtcd } from '../test/helpers/etcd.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const python = path.join(repoRoot, '.venv/bin/python');

interface Options {
  nodes: number[];
  seals: number;
  objects: number;
  etcd: boolean;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { nodes: [2, 4, 8], seals: 2000, objects: 10_000, etcd: false, out: path.join(repoRoot, 'bench/results/cluster-growth.json') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    if (arg === '--nodes') options.nodes = value().split(',').map(Number);
    else if (arg === '--seals') options.seals = Number(value());
    else if (arg === '--objects') options.objects = Number(value());
    else if (arg === '--etcd') options.etcd = true;
    else if (arg === '--quick') Object.assign(options, { nodes: [2, 4], seals: 400, objects: 2000 });
    else if (arg === '--out') options.out = path.resolve(value());
    else throw new Error(`unknown option ${arg}: use --nodes 2,4,8 --seals N --objects N --etcd --quick --out FILE`);
  }
  if (options.nodes.some((n) => !Number.isInteger(n) || n < 2)) throw new Error('--nodes takes integers >= 2, e.g. 2,4,8');
  return options;
}

/** Creates and seals `count` objects of `size` bytes with fresh random ids; prints the last id. */
const PUTTER = `
import os, sys, time
import pyarrow.plasma as plasma
client = plasma.connect(sys.argv[1])
count, size = int(sys.argv[2]), int(sys.argv[3])
payload = b"x" * size
started = time.monotonic()
last = None
refused = 0
done = 0
while done < count:
    last = plasma.ObjectID(os.urandom(20))
    try:
        buffer = client.create(last, size)
    except (plasma.PlasmaStoreFull, plasma.PlasmaObjectExists):
        # A fenced store (not a member just now) refuses creates: count it, try again soon.
        refused += 1
        time.sleep(0.05)
        continue
    memoryview(buffer).cast("B")[:] = payload
    del buffer
    try:
        client.seal(last)
    except plasma.PlasmaObjectExists:
        refused += 1
        client = plasma.connect(sys.argv[1])  # pyarrow keeps a stale entry after a refused seal
        continue
    done += 1
print(f"done {count} {time.monotonic() - started:.3f} {last.binary().hex()} {refused}", flush=True)
`;

async function put(store: HostStore, count: number, size: number): Promise<{ seconds: number; lastId: string; refused: number }> {
  const proc = await store.host.spawn(python, ['-c', PUTTER, store.socketPath, String(count), String(size)]);
  const code = await proc.exited;
  const match = /done (\d+) ([\d.]+) ([0-9a-f]+) (\d+)/.exec(proc.stdout());
  if (code !== 0 || !match) throw new Error(`putter on ${store.name} failed (${code}): ${proc.stderr().slice(-2000)}`);
  if (Number(match[4]) > 0) process.stderr.write(`  ${store.name}: ${match[4]} creates refused (fenced store) and retried\n`);
  return { seconds: Number(match[2]), lastId: match[3]!, refused: Number(match[4]) };
}

/** Every store a live member (etcd membership: registered and not fenced). */
async function waitLive(cluster: HostCluster, stores: readonly HostStore[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const replies = await Promise.all(stores.map((store) => cluster.status(store)));
    if (replies.every((reply) => reply.membership?.live !== false)) return;
    if (Date.now() > deadline) throw new Error(`stores not live members within 30 s: ${JSON.stringify(replies.map((r) => r.membership))}`);
    await sleep(100);
  }
}

/** Packets and bytes all hosts sent (the switch ports' rx counters). */
function sent(hosts: readonly Host[]): { packets: number; bytes: number } {
  let packets = 0;
  let bytes = 0;
  for (const host of hosts) {
    const counters = host.sentCounters();
    packets += counters.packets;
    bytes += counters.bytes;
  }
  return { packets, bytes };
}

function rssAnon(pid: number): number {
  const line = fs.readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('RssAnon:'))!;
  return Number(/(\d+)/.exec(line)![1]) * 1024;
}

/** Steps of `--objects` remote objects for the directory figure. */
const DIRECTORY_STEPS = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** RssAnon once it has stopped moving (GC settles): the median of five samples 200 ms apart. */
async function settledRss(pid: number): Promise<number> {
  await sleep(1500);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssAnon(pid));
    await sleep(200);
  }
  return samples.sort((a, b) => a - b)[2]!;
}

interface Row {
  nodes: number;
  seals: number;
  sealSeconds: number;
  idlePacketsPerSecond: number;
  idleBytesPerSecond: number;
  packetsPerSeal: number;
  bytesPerSeal: number;
  directoryBytesPer10k: number;
  /** RssAnon of the peer store before and after each step of remote objects. */
  rssSteps: number[];
}

async function measure(nodes: number, options: Options): Promise<Row> {
  const names = Array.from({ length: nodes }, (_, i) => `n${i}`);
  const hosts: Hosts = await createHosts({ hosts: options.etcd ? [...names, 'etcd'] : names, shmSize: '256m' });
  try {
    const storeHosts = hosts.list.filter((h) => h.name !== 'etcd');
    const cluster = await HostCluster.create(hosts);
    let stores: HostStore[];
    if (options.etcd) {
      const etcdHost = hosts.host('etcd');
      const etcd = await startEtcd({ host: etcdHost.address, launch: etcdHost.launch });
      stores = storeHosts.map((host) => cluster.add(host, { etcd: [etcd.url] }));
      await Promise.all(stores.map((s) => s.start()));
    } else {
      stores = await cluster.startStatic(storeHosts);
    }
    await cluster.waitConnected(stores, 60_000);
    await waitLive(cluster, stores);
    await sleep(1000);

    // Idle: what the cluster sends with nothing to do (lease renewals, keepalives, etcd).
    const idleSeconds = 4;
    const idle0 = sent(hosts.list);
    const idleStart = performance.now();
    await sleep(idleSeconds * 1000);
    const idle1 = sent(hosts.list);
    const idleElapsed = (performance.now() - idleStart) / 1000;
    const idlePps = (idle1.packets - idle0.packets) / idleElapsed;
    const idleBps = (idle1.bytes - idle0.bytes) / idleElapsed;

    // Seals: every host's client seals its share of small objects at once.
    const perHost = Math.ceil(options.seals / nodes);
    const before = sent(hosts.list);
    const started = performance.now();
    await Promise.all(stores.map((store) => put(store, perHost, 64)));
    await sleep(500); // the last events and acknowledgements
    const after = sent(hosts.list);
    const seconds = (performance.now() - started) / 1000;
    const seals = perHost * nodes;
    const fences = (await Promise.all(stores.map((store) => cluster.status(store)))).reduce((n, r) => n + (r.membership?.fences ?? 0), 0);
    if (fences > 0) process.stderr.write(`  ${nodes} nodes: stores were fenced ${fences} time(s) (keep-alives late on a loaded machine)\n`);
    const packetsPerSeal = (after.packets - before.packets - idlePps * seconds) / seals;
    const bytesPerSeal = (after.bytes - before.bytes - idleBps * seconds) / seals;

    // Directory memory: n0 seals objects in steps; n1 learns each one (id → owner) from n0's
    // events. The first step also grows V8's heap reservations: the figure is the slope of the
    // later steps (least squares), per 10,000 objects.
    const peer = stores[1]!;
    const rss = [await settledRss(peer.pid)];
    for (let step = 1; step <= DIRECTORY_STEPS; step++) {
      await put(stores[0]!, options.objects, 16);
      rss.push(await settledRss(peer.pid));
    }
    const later = rss.slice(1).map((y, i) => ({ n: (i + 1) * options.objects, y }));
    const directoryBytesPer10k = fit(later).b * 10_000;
    process.stderr.write(`  ${nodes} nodes: RssAnon of a peer ${rss.map((v) => (v / 2 ** 20).toFixed(1)).join(' → ')} MiB (steps of ${options.objects} objects)\n`);
    return {
      nodes,
      seals,
      sealSeconds: seconds,
      idlePacketsPerSecond: idlePps,
      idleBytesPerSecond: idleBps,
      packetsPerSeal,
      bytesPerSeal,
      directoryBytesPer10k,
      rssSteps: rss,
    };
  } finally {
    await hosts.destroy();
  }
}

/** Least-squares line y = a + b·n. */
function fit(points: { n: number; y: number }[]): { a: number; b: number } {
  const mean = (values: number[]) => values.reduce((s, v) => s + v, 0) / values.length;
  const mn = mean(points.map((p) => p.n));
  const my = mean(points.map((p) => p.y));
  const sxx = points.reduce((s, p) => s + (p.n - mn) ** 2, 0);
  const b = sxx === 0 ? 0 : points.reduce((s, p) => s + (p.n - mn) * (p.y - my), 0) / sxx;
  return { a: my - b * mn, b };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const reason = hostsUnavailableReason();
  if (reason) {
    process.stderr.write(`cluster-growth: ${reason}\n`);
    process.exit(2);
  }
  if (!fs.existsSync(python)) throw new Error(`${python} is missing: run scripts/setup-python.sh (the bench drives pyarrow 11 clients)`);
  const rows: Row[] = [];
  for (const nodes of options.nodes) {
    process.stderr.write(`cluster-growth: ${nodes} hosts (${options.etcd ? 'etcd' : 'static'} membership)…\n`);
    rows.push(await measure(nodes, options));
  }
  const packets = fit(rows.map((r) => ({ n: r.nodes, y: r.packetsPerSeal })));
  const bytes = fit(rows.map((r) => ({ n: r.nodes, y: r.bytesPerSeal })));
  const directory = rows.reduce((s, r) => s + r.directoryBytesPer10k, 0) / rows.length;
  // Idle traffic is per link (keep-alives, lease renewals between every pair): per ordered pair.
  const idlePerPair = rows.reduce((s, r) => s + r.idlePacketsPerSecond / (r.nodes * (r.nodes - 1)), 0) / rows.length;

  const pad = (text: string, width: number) => text.padStart(width);
  const lines = [
    `membership: ${options.etcd ? 'etcd' : 'static (--peer)'}; ${options.seals} seals of 64 B objects spread over all hosts; idle traffic subtracted`,
    `${pad('nodes', 6)} ${pad('seals/s', 9)} ${pad('packets/seal', 13)} ${pad('bytes/seal', 11)} ${pad('idle pkt/s', 11)} ${pad('dir B/10k remote objects', 25)}`,
    ...rows.map(
      (r) =>
        `${pad(String(r.nodes), 6)} ${pad((r.seals / r.sealSeconds).toFixed(0), 9)} ${pad(r.packetsPerSeal.toFixed(1), 13)} ${pad(r.bytesPerSeal.toFixed(0), 11)} ${pad(r.idlePacketsPerSecond.toFixed(1), 11)} ${pad((r.directoryBytesPer10k / 1024).toFixed(0) + ' KiB', 25)}`,
    ),
    `linear fit: packets/seal = ${packets.a.toFixed(2)} + ${packets.b.toFixed(2)}·N, bytes/seal = ${bytes.a.toFixed(0)} + ${bytes.b.toFixed(0)}·N`,
    ...[64, 512].map(
      (n) =>
        `projected ${pad(String(n), 3)} nodes: ${(packets.a + packets.b * n).toFixed(0)} packets and ${((bytes.a + bytes.b * n) / 1024).toFixed(1)} KiB per seal; ` +
        `a node's directory for 1 M objects on each other node: ${((directory / 10_000) * 1e6 * (n - 1) / 2 ** 30).toFixed(2)} GiB; ` +
        `idle traffic ${((idlePerPair * n * (n - 1)) / 1000).toFixed(0)} k packets/s cluster-wide`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(
    options.out,
    `${JSON.stringify({ at: new Date().toISOString(), membership: options.etcd ? 'etcd' : 'static', options, rows, fit: { packets, bytes }, directoryBytesPer10k: directory, idlePacketsPerSecondPerPair: idlePerPair }, null, 2)}\n`,
  );
  process.stdout.write(`written ${path.relative(process.cwd(), options.out)}\n`);
}

main().catch((error) => {
  process.stderr.write(`cluster-growth: ${(error as Error).stack ?? error}\n`);
  process.exit(1);
});
