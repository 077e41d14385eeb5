/**
 * One worker process of the scale benchmark (started once per run by workloads/scale.ts, with
 * tsx). Commands arrive one per line on stdin; each is answered with one line on stdout:
 *   OPEN n   close the previous clients (deleting what they created) and idle connections, open
 *            n new connections, each putting one object (unmeasured: its first create maps the region)
 *   IDLE n   open n more connections that stay idle (each checked with one Contains round trip)
 *            until the next OPEN; answers `DONE {"opened":…,"errors":…}`
 *   PUT      every client loops create(1 kB) + write + seal + release on fresh ids for `seconds`
 *   GET      every client loops get + release over the objects it put, round robin, for `seconds`
 *   END      clean up and exit
 * One request in flight per client, as Plasma clients do. PUT and GET answer
 * `DONE {"ops":…,"errors":…,"samplesUs":[…]}` (a failed operation counts as an error, and the
 * client goes on); OPEN answers `READY`.
 */
import readline from 'node:readline';
import { connect, type PlasmaClient } from '../../src/client/plasma-client.js';
import { ObjectId } from '../../src/protocol/object-id.js';

interface WorkerSpec {
  socket: string;
  seconds: number;
  size: number;
}

const spec = JSON.parse(process.argv[2]!) as WorkerSpec;
const payload = new Uint8Array(spec.size).map((_, i) => (i * 31) & 0xff);
let clients: PlasmaClient[] = [];
let created: ObjectId[][] = [];
let idle: PlasmaClient[] = [];

async function closeAll(): Promise<void> {
  for (let c = 0; c < clients.length; c++) {
    const ids = created[c]!;
    for (let at = 0; at < ids.length; at += 1000) await clients[c]!.delete(ids.slice(at, at + 1000));
    clients[c]!.close();
  }
  for (const client of idle) client.close();
  clients = [];
  created = [];
  idle = [];
}

async function openIdle(n: number): Promise<{ opened: number; errors: number }> {
  let errors = 0;
  const probe = ObjectId.random();
  // In groups: a connect storm of thousands at once would only measure the listen backlog.
  for (let at = 0; at < n; at += 50) {
    const group = await Promise.allSettled(
      Array.from({ length: Math.min(50, n - at) }, async () => {
        const client = await connect(spec.socket);
        idle.push(client);
        await client.contains(probe);
      }),
    );
    errors += group.filter((r) => r.status === 'rejected').length;
  }
  return { opened: idle.length, errors };
}

async function open(n: number): Promise<void> {
  await closeAll();
  clients = await Promise.all(Array.from({ length: n }, () => connect(spec.socket)));
  created = clients.map(() => []);
  // One put each before the clock starts: a connection's first create also receives and maps the
  // region (a descriptor per connection), a cost of connecting, not of concurrency.
  await Promise.all(
    clients.map(async (client, c) => {
      const id = ObjectId.random();
      const object = await client.create(id, spec.size);
      await client.seal(id);
      object.release();
      created[c]!.push(id);
    }),
  );
}

async function phase(kind: 'PUT' | 'GET'): Promise<{ ops: number; errors: number; samplesUs: number[] }> {
  const end = performance.now() + spec.seconds * 1000;
  const samples: number[][] = clients.map(() => []);
  let errors = 0;
  await Promise.all(
    clients.map(async (client, c) => {
      const mine = created[c]!;
      let next = 0;
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          if (kind === 'PUT') {
            const id = ObjectId.random();
            const object = await client.create(id, spec.size);
            object.data.set(payload);
            await client.seal(id);
            object.release();
            mine.push(id);
          } else {
            if (mine.length === 0) break;
            const [object] = await client.get([mine[next++ % mine.length]!], { timeoutMs: 5000 });
            if (!object) throw new Error('an object this client put was not there');
            object.release();
          }
        } catch (error) {
          errors++;
          if (errors <= 3) process.stderr.write(`scale worker: ${kind} failed: ${(error as Error).message}\n`);
          if (client.closed) break;
          continue;
        }
        samples[c]!.push((performance.now() - t0) * 1e3);
      }
    }),
  );
  const flat = samples.flat();
  return { ops: flat.length, errors, samplesUs: flat.map((v) => Math.round(v * 10) / 10) };
}

process.stdout.write('READY\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  const [command, arg] = line.trim().split(/\s+/);
  if (command === 'OPEN') {
    await open(Number(arg));
    process.stdout.write('READY\n');
  } else if (command === 'IDLE') {
    process.stdout.write(`DONE ${JSON.stringify(await openIdle(Number(arg)))}\n`);
  } else if (command === 'PUT' || command === 'GET') {
    process.stdout.write(`DONE ${JSON.stringify(await phase(command))}\n`);
  } else if (command === 'END') {
    break;
  }
}
await closeAll();
process.exit(0);
