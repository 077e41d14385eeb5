/**
 * Create+seal latency of small objects in a 3-store etcd cluster on loopback, with the TypeScript
 * client: what fencing costs a create (a claim at the id's home, and for ids homed at the creating
 * store a record at the id's successor). Run it against two builds to compare:
 *
 *   npx tsx bench/fence-create-latency.ts [--cli PATH/bin/plasmapool.js] [--creates 600] [--size 1024] [--rounds 3]
 *
 * Prints, per round, the median / p90 / p99 / mean in µs over every create, and the same split by
 * whether the id was homed at the creating store (self) or at a peer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../src/client/plasma-client.js';
import { homeNodeOf } from '../src/cluster/home-node.js';
import { createSecretFile } from '../src/cluster/peer-auth.js';
import { ObjectId } from '../src/protocol/object-id.js';
import { startEtcd } from '../test/helpers/etcd.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name: string, fallback: string) => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
};
const cli = arg('cli', path.join(root, 'bin/plasmapool.js'));
const creates = Number(arg('creates', '600'));
const size = Number(arg('size', '1024'));
const rounds = Number(arg('rounds', '3'));

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pp-fence-bench-'));
const children: ChildProcess[] = [];
const stop = () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
};
process.on('exit', stop);

async function startStore(name: string, etcdUrl: string, secret: string): Promise<string> {
  const socket = path.join(dir, `${name}.sock`);
  const child = spawn(process.execPath, [cli, 'store', '-s', socket, '-m', '256MiB', '--node-name', name, '--listen', '127.0.0.1:0', '--etcd', etcdUrl, '--secret-file', secret], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!/grpc \S+/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`store ${name} did not start: ${out}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return socket;
}

function stats(us: number[]): string {
  const sorted = [...us].sort((x, y) => x - y);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = us.reduce((a, b) => a + b, 0) / us.length;
  return `n=${us.length} median ${at(0.5).toFixed(0)} p90 ${at(0.9).toFixed(0)} p99 ${at(0.99).toFixed(0)} mean ${mean.toFixed(0)} µs`;
}

async function main(): Promise<void> {
  const etcd = await startEtcd();
  const secret = path.join(dir, 'cluster.secret');
  createSecretFile(secret);
  const names = ['a', 'b', 'c'];
  const sockets = [];
  for (const name of names) sockets.push(await startStore(name, etcd.url, secret));
  const client = await connect(sockets[0]!);
  const data = new Uint8Array(size).fill(7);
  // Until every member has settled, creates are refused: retry the first one.
  for (let tries = 0; ; tries++) {
    try {
      await client.createAndSeal(ObjectId.random(), data);
      break;
    } catch (error) {
      if (tries > 300) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  console.log(`cli ${cli}: ${creates} creates+seals of ${size} B on store a of a, b, c (etcd), ${rounds} rounds`);
  for (let round = 0; round < rounds; round++) {
    const all: number[] = [];
    const self: number[] = [];
    const peer: number[] = [];
    for (let i = 0; i < creates; i++) {
      const id = ObjectId.random();
      const started = process.hrtime.bigint();
      await client.createAndSeal(id, data);
      const us = Number(process.hrtime.bigint() - started) / 1000;
      all.push(us);
      (homeNodeOf(id.hex, names) === 'a' ? self : peer).push(us);
    }
    console.log(`round ${round + 1}: all ${stats(all)}\n  homed at a (self): ${stats(self)}\n  homed at a peer:   ${stats(peer)}`);
  }
  client.close();
  for (const child of children) child.kill('SIGTERM');
  await etcd.close();
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
