/**
 * N stores on one machine, each a separate process with its own region in /dev/shm: the
 * single-machine stand-in for N hosts sharing a memory fabric. Used by `plasmapool cluster up`,
 * the tests, the benchmarks and the notebook.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSecretFile, readSecretFile, type PeerAccess } from './peer-auth.js';
import { queryStatus } from './status-client.js';
import type { StatusReply } from './peer-service.js';

export interface LocalClusterOptions {
  nodes: number;
  /** Capacity per store, bytes or with a unit ('1GiB'). */
  memory: string | number;
  /** Where the sockets and cluster.json go (created if missing). */
  dir: string;
  /** Region directory (default /dev/shm). */
  regionDir?: string;
  transport?: 'auto' | 'shared' | 'copy';
  leaseMs?: number;
  peerTimeoutMs?: number;
  /** Extra flags for every store. */
  extraArgs?: string[];
  /** Extra flags for one store (by index), after extraArgs: a per-node --metrics port, say. */
  nodeArgs?: (index: number) => string[];
  /** How long to wait for the stores to connect to each other (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * Membership on etcd instead of the cluster file: the stores' etcd flags (`--etcd URL`,
   * `--etcd-prefix`, …). cluster.json is still written, for `cluster status` and `cluster ls`.
   */
  etcdArgs?: string[];
  /** Called with each store's stderr lines (default: discarded). */
  onLog?: (node: string, line: string) => void;
}

export interface LocalNode {
  name: string;
  socketPath: string;
  address: string;
  /** The store's region file (from its ready line). */
  regionPath: string;
  /** The store's ready line (socket, region, grpc and metrics addresses). */
  readyLine: string;
  process: ChildProcess;
}

export interface LocalCluster {
  readonly nodes: readonly LocalNode[];
  readonly clusterFile: string;
  /** What a client of the stores' cluster ports needs: the secret (and TLS files if used). */
  readonly access: PeerAccess;
  /** SIGTERM every store and wait for them; removes cluster.json. */
  close(): Promise<void>;
}

const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/plasmapool.js');

/** A TCP port free on 127.0.0.1 now (another process may take it before it is bound). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves with the store's ready line once it has printed it. */
function waitReady(child: ChildProcess, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = /plasmapool store ready[^\n]*\n/.exec(output)?.[0];
      if (line) {
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        // Keep draining stdout so that a chatty store never blocks on a full pipe.
        child.stdout!.resume();
        resolve(line);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`store ${name} exited with code ${code} before it was ready`));
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Access to a node of this cluster: its secret, and TLS with the nodes' own files when they use TLS. */
function accessFor(secret: Buffer, extraArgs: readonly string[]): PeerAccess {
  const flag = (name: string) => {
    const i = extraArgs.indexOf(name);
    return i >= 0 ? extraArgs[i + 1] : undefined;
  };
  const [ca, cert, key] = [flag('--tls-ca'), flag('--tls-cert'), flag('--tls-key')];
  return { secret, tls: ca && cert && key ? { ca, cert, key } : undefined };
}

/** Wait until every node of a local cluster is connected to every peer. */
export async function waitForPeers(nodes: readonly LocalNode[], timeoutMs: number, access: PeerAccess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const replies = await Promise.all(nodes.map((node) => queryStatus(node.address, access).catch(() => null)));
    // With etcd, also every node live (a member that has settled the view with everyone).
    const ready = (r: StatusReply | null) =>
      r !== null && r.peers.length === nodes.length - 1 && r.peers.every((p) => p.connected) && (!r.membership?.dynamic || r.membership.live);
    if (replies.every(ready)) return;
    if (Date.now() > deadline) throw new Error(`the ${nodes.length} stores did not connect to each other within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Start the cluster. Ports are picked free just before the stores bind them, so another process
 * can take one in between: a store that cannot bind exits, and the whole start is retried.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (!(error instanceof StoreStartError) || !error.portInUse || attempt >= 3) throw error;
    }
  }
}

class StoreStartError extends Error {
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

async function startOnce(options: LocalClusterOptions): Promise<LocalCluster> {
  fs.mkdirSync(options.dir, { recursive: true });
  const members = await Promise.all(
    Array.from({ length: options.nodes }, async (_, i) => ({
      name: `node-${i}`,
      address: `127.0.0.1:${await freePort()}`,
      socketPath: path.join(options.dir, `node-${i}.sock`),
    })),
  );
  const clusterFile = path.join(options.dir, 'cluster.json');
  // Every call between these stores carries this secret; only this user can read it.
  const secretFile = path.join(options.dir, 'cluster.secret');
  createSecretFile(secretFile);
  const access = accessFor(readSecretFile(secretFile), options.extraArgs ?? []);
  fs.writeFileSync(clusterFile, JSON.stringify({ nodes: members, secretFile: 'cluster.secret' }, null, 2));
  const lastErrors = new Map<string, string>();
  const nodes: LocalNode[] = members.map((member) => {
    const args = [
      cliPath,
      'store',
      '-s',
      member.socketPath,
      '-m',
      String(options.memory),
      '--node-name',
      member.name,
      ...(options.etcdArgs ? ['--listen', member.address, '--secret-file', secretFile, ...options.etcdArgs] : ['--cluster', clusterFile]),
      '--transport',
      options.transport ?? 'auto',
      '--lease-ms',
      String(options.leaseMs ?? 10_000),
      '--peer-timeout-ms',
      String(options.peerTimeoutMs ?? 1_000),
      ...(options.regionDir ? ['-d', options.regionDir] : []),
      ...(options.extraArgs ?? []),
      ...(options.nodeArgs?.(Number(member.name.slice('node-'.length))) ?? []),
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (text: string) => {
      for (const line of text.split('\n')) {
        if (!line) continue;
        lastErrors.set(member.name, line);
        options.onLog?.(member.name, line);
      }
    });
    return { ...member, regionPath: '', readyLine: '', process: child };
  });
  const close = async () => {
    await Promise.all(
      nodes.map(
        (node) =>
          new Promise<void>((resolve) => {
            if (node.process.exitCode !== null || node.process.signalCode !== null) return resolve();
            const timer = setTimeout(() => node.process.kill('SIGKILL'), 5000);
            node.process.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            node.process.kill('SIGTERM');
          }),
      ),
    );
    fs.rmSync(clusterFile, { force: true });
    fs.rmSync(secretFile, { force: true });
    // Every store has exited: a socket left behind (a store killed before its cleanup) is stale.
    for (const node of nodes) fs.rmSync(node.socketPath, { force: true });
  };
  try {
    const lines = await Promise.all(nodes.map((node) => waitReady(node.process, node.name)));
    lines.forEach((line, i) => {
      nodes[i]!.readyLine = line;
      nodes[i]!.regionPath = /, region (\S+?)(,|\s|$)/.exec(line)?.[1] ?? '';
    });
    // Until the stores know each other they cannot find peers' objects or claim ids at a peer
    // home, so the cluster is only "up" once every link is connected.
    if (nodes.length > 1) {
      await waitForPeers(nodes, options.connectTimeoutMs ?? 30_000, access);
    }
  } catch (error) {
    await close();
    // Let the stores' last stderr lines arrive: they say why a store gave up.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const reasons = [...lastErrors].map(([node, line]) => `${node}: ${line}`).join('; ');
    throw new StoreStartError(
      `${(error as Error).message}${reasons ? ` (${reasons})` : ''}`,
      /EADDRINUSE|address already in use|No address added/i.test(reasons),
    );
  }
  return { nodes, clusterFile, access, close };
}
