/**
 * `plasmapool cluster up` starts N local stores that form one cluster; `cluster status` asks each
 * node of a cluster for its state over gRPC; `cluster ls` lists every node's objects.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { storeObjects } from '../client/admin-query.js';
import { startLocalCluster } from '../cluster/local-cluster.js';
import { readEtcdMembers } from '../cluster/etcd-membership.js';
import { readClusterFile, type MemberAddress } from '../cluster/membership.js';
import { readSecretFile, type PeerAccess } from '../cluster/peer-auth.js';
import { accessFromClusterFile, queryStatus } from '../cluster/status-client.js';
import { isLoopback, parseHostPort } from '../metrics/metrics-server.js';
import type { AdminObject } from '../protocol/admin.js';
import { formatSize, parseSize } from '../util/size.js';
import { loadConfigFile } from './config-file.js';
import { objectsTable } from './inspect-commands.js';
import { writeJson } from './output.js';
import { UsageError } from './usage-error.js';
import { etcdFlags, etcdOptionsFrom, type EtcdArgs } from './etcd-flags.js';
import { tlsFilesFrom, type TlsArgs } from './tls-flags.js';

const DEFAULT_DIR = '/tmp/plasmapool-cluster';

interface UpArgs extends EtcdArgs {
  nodes: number;
  memory: string;
  dir: string;
  transport: 'auto' | 'shared' | 'copy';
  metrics?: string;
  'log-file'?: string;
  'log-level': string;
  'departed-ttl-ms'?: number;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** One metrics address per node: PORT, PORT+1, … (port 0: a free port each). */
async function metricsAddresses(address: string, nodes: number): Promise<string[]> {
  const { host, port } = parseHostPort(address, '--metrics');
  if (!isLoopback(host)) throw new UsageError(`cluster up serves metrics on loopback only; got --metrics ${address}: use 127.0.0.1:PORT`);
  const shown = host.includes(':') ? `[${host}]` : host;
  return Promise.all(Array.from({ length: nodes }, async (_, i) => `${shown}:${port === 0 ? await freePort(host) : port + i}`));
}

const up: CommandModule<object, UpArgs> = {
  command: 'up',
  describe: 'start N local stores forming one cluster; Ctrl-C stops them all',
  builder: (y) =>
    etcdFlags(y)
      .option('nodes', { type: 'number', default: 3, describe: 'number of stores' })
      .option('memory', { type: 'string', default: '1GiB', describe: 'capacity of each store' })
      .option('dir', { type: 'string', default: DEFAULT_DIR, describe: 'where the sockets (*.sock) and cluster.json go' })
      .option('transport', { type: 'string', choices: ['auto', 'shared', 'copy'] as const, default: 'auto' as const })
      .option('metrics', { type: 'string', describe: 'Prometheus metrics: node-i serves http://HOST:(PORT+i)/metrics (loopback; port 0 picks free ports)' })
      .option('log-file', { type: 'string', describe: 'append every store\'s logs (JSON lines) to this file instead of stderr' })
      .option('log-level', { type: 'string', choices: ['debug', 'info', 'warn', 'error', 'silent'], default: 'warn', describe: 'the stores\' log level' })
      .option('departed-ttl-ms', { type: 'number', describe: 'with --etcd: how long ids of a member that left stay reserved for it (the stores\' --departed-ttl-ms)' })
      .config('config', 'read options from a JSON or YAML file (keys are the long flag names); flags override it', loadConfigFile)
      .check((args) => {
        if (!Number.isInteger(args.nodes) || args.nodes < 1 || args.nodes > 64) throw new Error('--nodes must be between 1 and 64');
        parseSize(args.memory);
        if (args.metrics) parseHostPort(args.metrics, '--metrics');
        return true;
      }) as never,
  handler: async (args) => {
    const dir = path.resolve(args.dir);
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new UsageError(`--dir ${dir} is not a directory`);
    const metrics = args.metrics ? await metricsAddresses(args.metrics, args.nodes) : null;
    let etcdArgs: string[] | undefined;
    try {
      const etcd = etcdOptionsFrom(args);
      if (etcd) {
        etcdArgs = ['--etcd', etcd.endpoints.join(','), '--etcd-prefix', etcd.prefix!, '--etcd-ttl', String(etcd.ttlSeconds)];
        if (etcd.tls) etcdArgs.push('--etcd-ca', etcd.tls.ca, ...(etcd.tls.cert ? ['--etcd-cert', etcd.tls.cert, '--etcd-key', etcd.tls.key!] : []));
        if (args['departed-ttl-ms'] !== undefined) etcdArgs.push('--departed-ttl-ms', String(args['departed-ttl-ms']));
      } else if (args['departed-ttl-ms'] !== undefined) {
        throw new Error('--departed-ttl-ms is for --etcd (a static cluster keeps no tombstones)');
      }
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    // Signals from the first moment: SIGTERM to the whole process group (timeout, systemd)
    // reaches the stores and us together, and every signal must end in one clean stop.
    let cluster: Awaited<ReturnType<typeof startLocalCluster>> | null = null;
    let stopping = false;
    let exitCode = 0;
    const stop = async (code: number) => {
      exitCode = Math.max(exitCode, code);
      if (stopping || !cluster) return;
      stopping = true;
      await cluster.close();
      process.exit(exitCode);
    };
    let stopRequested = false;
    const onSignal = () => {
      stopRequested = true;
      void stop(0);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const storeArgs = ['--log-level', args['log-level'], ...(args['log-file'] ? ['--log-file', args['log-file']] : [])];
    cluster = await startLocalCluster({
      nodes: args.nodes,
      memory: args.memory,
      dir,
      transport: args.transport,
      extraArgs: storeArgs,
      etcdArgs,
      nodeArgs: metrics ? (i) => ['--metrics', metrics[i]!] : undefined,
      onLog: (node, line) => process.stderr.write(`[${node}] ${line}\n`),
    });
    process.stdout.write(`plasmapool cluster up: ${cluster.nodes.length} stores, ${args.memory} each (cluster file ${cluster.clusterFile})\n`);
    cluster.nodes.forEach((node, i) =>
      process.stdout.write(`  ${node.name}  socket ${node.socketPath}  grpc ${node.address}${metrics ? `  metrics http://${metrics[i]}/metrics` : ''}\n`),
    );
    for (const node of cluster.nodes) {
      node.process.once('exit', (code, signal) => {
        if (stopping) return;
        // A store that stopped cleanly was asked to (a signal to the process group): stop all.
        if (code === 0 || signal === 'SIGTERM' || signal === 'SIGINT') return void stop(0);
        process.stderr.write(`plasmapool cluster: ${node.name} exited (code ${code}, signal ${signal}); stopping the others\n`);
        void stop(1);
      });
    }
    if (stopRequested) void stop(0);
  },
};

interface ClusterArgs extends EtcdArgs, TlsArgs {
  dir: string;
  cluster?: string;
  json: boolean;
  'secret-file'?: string;
}

function clusterOptions<T>(y: Argv<T>) {
  return etcdFlags(y)
    .option('dir', { type: 'string', default: DEFAULT_DIR, describe: 'directory of `cluster up`' })
    .option('cluster', { type: 'string', describe: 'cluster file (default DIR/cluster.json)' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON for scripts' });
}

/**
 * The members of the cluster the arguments name: those registered in etcd (--etcd), else those of
 * the cluster file; or an error that says where none was found.
 */
async function membersOf(args: ClusterArgs): Promise<MemberAddress[]> {
  const etcd = etcdOptionsFrom(args);
  if (etcd) {
    const records = await readEtcdMembers(etcd);
    if (records.length === 0) throw new Error(`no stores are registered under ${etcd.prefix}/members/ in etcd: start them with --etcd, or check --etcd-prefix`);
    return records.map(({ name, address, socketPath }) => ({ name, address, socketPath }));
  }
  const file = args.cluster ?? path.join(args.dir, 'cluster.json');
  if (!fs.existsSync(file)) {
    throw new Error(
      args.cluster
        ? `no cluster file ${file}: pass the file a cluster's stores were started with`
        : `no cluster found at ${args.dir} (no cluster.json there): start one with \`plasmapool cluster up --dir ${args.dir}\`, or pass --cluster FILE or --etcd URL`,
    );
  }
  return readClusterFile(file);
}

/** How to authenticate to the stores: the cluster file's secret, or --secret-file, and TLS files. */
function accessOf(args: ClusterArgs): PeerAccess {
  const tls = tlsFilesFrom(args);
  if (!args.etcd) return accessFromClusterFile(args.cluster ?? path.join(args.dir, 'cluster.json'), { secretFile: args['secret-file'], tls });
  if (!args['secret-file'] && !tls) {
    throw new Error('with --etcd there is no cluster file to name the secret: pass --secret-file FILE (the stores\' --secret-file), or --tls-ca/--tls-cert/--tls-key');
  }
  return { tls, secret: args['secret-file'] ? readSecretFile(args['secret-file']) : undefined };
}

const status: CommandModule<object, ClusterArgs> = {
  command: 'status',
  describe: 'show the nodes of a cluster: capacity, objects, peers and transports',
  builder: (y) =>
    clusterOptions(y)
      .option('secret-file', {
        type: 'string',
        describe: 'the cluster secret (default: the cluster file\'s "secretFile"; required with --etcd unless TLS)',
      })
      .option('tls-ca', { type: 'string', describe: 'CA certificate (PEM) of a TLS cluster' })
      .option('tls-cert', { type: 'string', describe: 'a client certificate (PEM) the cluster CA signed' })
      .option('tls-key', { type: 'string', describe: 'its private key (PEM)' }) as never,
  handler: async (args) => {
    const access = accessOf(args);
    const members = await membersOf(args);
    let failures = 0;
    const rows: unknown[] = [];
    for (const member of members) {
      try {
        const reply = await queryStatus(member.address, access);
        rows.push({ ...reply, node: member.name, address: member.address, up: true });
        if (args.json) continue;
        const peers = reply.peers.map((p) => `${p.node}:${p.connected ? p.transport : 'down'}`).join(' ');
        const membership = reply.membership?.dynamic ? `  etcd ${reply.membership.state} (view of ${reply.membership.members})` : '';
        process.stdout.write(
          `${member.name.padEnd(10)} ${member.address.padEnd(21)} up    capacity ${formatSize(reply.capacity).padStart(10)}  used ${formatSize(reply.allocated).padStart(10)}  objects ${String(reply.objects).padStart(7)}  clients ${reply.clients}  peers ${peers}${membership}\n`,
        );
      } catch (error) {
        failures++;
        rows.push({ node: member.name, address: member.address, up: false, error: (error as Error).message });
        if (!args.json) process.stdout.write(`${member.name.padEnd(10)} ${member.address.padEnd(21)} DOWN  ${(error as Error).message}\n`);
      }
    }
    if (args.json) writeJson({ nodes: rows });
    process.exitCode = failures === 0 ? 0 : 1;
  },
};

const ls: CommandModule<object, ClusterArgs> = {
  command: 'ls',
  describe: "list every node's objects (nodes need a socketPath in the cluster file, as `cluster up` writes)",
  builder: (y) => clusterOptions(y) as never,
  handler: async (args) => {
    const members = await membersOf(args);
    const objects: (AdminObject & { node: string })[] = [];
    const failures: { node: string; error: string }[] = [];
    for (const member of members) {
      if (!member.socketPath) {
        failures.push({ node: member.name, error: `the cluster file gives no socketPath for ${member.name}: run \`plasmapool ls -s SOCKET\` on its host` });
        continue;
      }
      try {
        for (const object of await storeObjects(member.socketPath)) objects.push({ node: member.name, ...object });
      } catch (error) {
        failures.push({ node: member.name, error: (error as Error).message });
      }
    }
    objects.sort((a, b) => a.node.localeCompare(b.node) || a.createTime - b.createTime || a.id.localeCompare(b.id));
    if (args.json) writeJson({ objects, failures });
    else {
      if (objects.length > 0) process.stdout.write(objectsTable(objects, true));
      else process.stdout.write(`no objects on ${members.length - failures.length} reachable nodes\n`);
      for (const failure of failures) process.stderr.write(`plasmapool cluster ls: ${failure.node}: ${failure.error}\n`);
    }
    if (failures.length > 0) process.exitCode = 1;
  },
};

export const clusterCommand: CommandModule = {
  command: 'cluster',
  describe: 'run and inspect a cluster of stores',
  builder: (y) =>
    y
      .command(up)
      .command(status)
      .command(ls)
      .demandCommand(1, 'name a cluster subcommand: up (start a local cluster), status (its nodes), ls (every node\'s objects)'),
  handler: () => undefined,
};
