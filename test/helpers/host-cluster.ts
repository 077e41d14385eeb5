/**
 * Stores in test hosts (hosts.ts): one `plasmapool store` per host, listening on the host's own
 * address, its socket in the hosts' shared temporary directory, asked for its Status through the
 * control agent. Free of vitest: bench/cluster-growth.ts uses it too. Every store is a process of
 * its host and goes with it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createSecretFile, type TlsFiles } from '../../src/cluster/peer-auth.js';
import type { StatusReply } from '../../src/cluster/peer-service.js';
import { HostsControl, type StoreAccess } from './hosts-control.js';
import type { Host, HostProcess, Hosts } from './hosts.js';

const run = promisify(execFile);
const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/plasmapool.js');

/** Poll `check` every 25 ms until it returns true or `ms` pass; returns whether it became true. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export const STORE_PORT = 7000;

export interface HostStoreOptions {
  memory?: string;
  transport?: 'auto' | 'shared' | 'copy';
  /** A named region file (the fabric case): --region PATH. */
  region?: string;
  /** TLS instead of the cluster secret. */
  tls?: TlsFiles;
  leaseMs?: number;
  peerTimeoutMs?: number;
  /** Membership: static peers (NAME=HOST:PORT) … */
  peers?: readonly string[];
  /** … or etcd client URLs. */
  etcd?: readonly string[];
  extraArgs?: readonly string[];
}

export class HostStore {
  proc!: HostProcess;
  readyLine = '';
  regionPath = '';

  constructor(
    readonly host: Host,
    readonly name: string,
    readonly socketPath: string,
    private readonly args: readonly string[],
  ) {}

  get address(): string {
    return `${this.host.address}:${STORE_PORT}`;
  }

  get pid(): number {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.child.exitCode === null && this.proc.child.signalCode === null;
  }

  /** Start (again, with the same arguments); resolves at its ready line. */
  async start(): Promise<void> {
    fs.rmSync(this.socketPath, { force: true });
    this.proc = await this.host.spawn(process.execPath, [cliPath, ...this.args]);
    const proc = this.proc;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        const line = /plasmapool store ready[^\n]*/.exec(proc.stdout())?.[0];
        if (line) {
          this.readyLine = line;
          this.regionPath = /region (\S+?)(,|\s|$)/.exec(line)?.[1] ?? '';
          return resolve();
        }
        if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
          return reject(new Error(`store ${this.name} in host ${this.host.name} exited: ${proc.stderr()}`));
        }
        setTimeout(check, 20);
      };
      check();
    });
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    return this.proc.stop(signal);
  }

  stderr(): string {
    return this.proc.stderr();
  }
}

/** The stores of one test: made, started, and asked for their status through the control agent. */
export class HostCluster {
  readonly stores: HostStore[] = [];
  readonly access: StoreAccess;

  constructor(
    readonly hosts: Hosts,
    readonly control: HostsControl,
    access: StoreAccess,
  ) {
    this.access = access;
  }

  static async create(hosts: Hosts, options: { tls?: TlsFiles } = {}): Promise<HostCluster> {
    let access: StoreAccess = { tls: options.tls };
    if (!options.tls) {
      const secretFile = path.join(hosts.dir, `cluster-${Date.now()}.secret`);
      createSecretFile(secretFile);
      access = { secretFile };
    }
    return new HostCluster(hosts, await HostsControl.start(hosts), access);
  }

  /** Make a store on `host` named like it (not started). */
  add(host: Host, options: HostStoreOptions = {}): HostStore {
    const socketPath = path.join(this.hosts.dir, `${host.name}-${this.stores.length}.sock`);
    const tls = options.tls ?? this.access.tls;
    const args = [
      'store',
      '-s', socketPath,
      '-m', options.memory ?? '64MiB',
      '--node-name', host.name,
      '--listen', `${host.address}:${STORE_PORT}`,
      '--transport', options.transport ?? 'auto',
      '--lease-ms', String(options.leaseMs ?? 3000),
      '--peer-timeout-ms', String(options.peerTimeoutMs ?? 1000),
      ...(options.region ? ['--region', options.region] : []),
      ...(tls ? ['--tls-ca', tls.ca, '--tls-cert', tls.cert, '--tls-key', tls.key] : ['--insecure']),
      ...(this.access.secretFile ? ['--secret-file', this.access.secretFile] : []),
      ...(options.peers ?? []).flatMap((peer) => ['--peer', peer]),
      ...(options.etcd ? ['--etcd', options.etcd.join(',')] : []),
      ...(options.extraArgs ?? []),
    ];
    const store = new HostStore(host, host.name, socketPath, args);
    this.stores.push(store);
    return store;
  }

  /** One store per host, each with every other as a static peer; started together. */
  async startStatic(hosts: readonly Host[], options: (host: Host) => HostStoreOptions = () => ({})): Promise<HostStore[]> {
    const stores = hosts.map((host) =>
      this.add(host, {
        ...options(host),
        peers: hosts.filter((h) => h !== host).map((h) => `${h.name}=${h.address}:${STORE_PORT}`),
      }),
    );
    await Promise.all(stores.map((store) => store.start()));
    return stores;
  }

  /** One store per host, members by etcd (--etcd); started together. */
  async startOnEtcd(hosts: readonly Host[], etcdUrls: readonly string[], options: (host: Host) => HostStoreOptions = () => ({})): Promise<HostStore[]> {
    const stores = hosts.map((host) => this.add(host, { ...options(host), etcd: etcdUrls }));
    await Promise.all(stores.map((store) => store.start()));
    return stores;
  }

  status(store: HostStore, timeoutMs = 2000): Promise<StatusReply> {
    return this.control.status(store.address, this.access, timeoutMs);
  }

  /** Every store reports every other store connected; resolves with their status replies. */
  async waitConnected(stores: readonly HostStore[], ms = 20_000): Promise<StatusReply[]> {
    let replies: StatusReply[] = [];
    let lastError = '';
    const ok = await eventually(async () => {
      try {
        replies = await Promise.all(stores.map((store) => this.status(store)));
      } catch (error) {
        lastError = (error as Error).message;
        return false;
      }
      return replies.every((reply) => reply.peers.length === stores.length - 1 && reply.peers.every((peer) => peer.connected));
    }, ms);
    if (!ok) throw new Error(`stores did not connect within ${ms} ms: ${lastError} ${JSON.stringify(replies)}`);
    return replies;
  }
}

/** A throwaway cluster CA and one node certificate for these addresses (server and client use). */
export async function clusterCertificates(dir: string, addresses: readonly string[]): Promise<TlsFiles> {
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-days', '1', '-subj', '/CN=plasmapool hosts test CA', '-keyout', file('ca.key'), '-out', file('ca.pem')]);
  await run('openssl', ['req', ...ec, '-subj', '/CN=node', '-keyout', file('node.key'), '-out', file('node.csr')]);
  const san = addresses.map((address) => `IP:${address}`).join(',');
  fs.writeFileSync(file('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  await run('openssl', ['x509', '-req', '-in', file('node.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', file('ext.cnf'), '-out', file('node.pem')]);
  return { ca: file('ca.pem'), cert: file('node.pem'), key: file('node.key') };
}
