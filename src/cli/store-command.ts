/**
 * `plasmapool store`: a Plasma store that accepts the reference plasma_store flags
 * (`-s SOCKET -m BYTES [-d DIR] [-h] [-e ENDPOINT]`) and readable long options.
 */
import type { CommandModule } from 'yargs';
import os from 'node:os';
import { parsePeerFlag, readClusterFile, StaticMembership, type MemberAddress, type Membership } from '../cluster/membership.js';
import { EtcdMembership } from '../cluster/etcd-membership.js';
import { etcdFlags, etcdOptionsFrom, type EtcdArgs } from './etcd-flags.js';
import { tlsFilesFrom } from './tls-flags.js';
import type { Logger } from '../util/log.js';
import type { ClusterOptions } from '../cluster/cluster-node.js';
import { readSecretFile } from '../cluster/peer-auth.js';
import { clusterSecretFileOf } from '../cluster/status-client.js';
import type { StoreHandle } from '../store/server.js';
import { startNode } from '../node/start-node.js';
import { storeMetrics } from '../metrics/store-metrics.js';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server.js';
import { createLogger, setLogFile, setLogLevel, type LogLevel } from '../util/log.js';
import { loadConfigFile } from './config-file.js';
import { UsageError } from './usage-error.js';
import { formatSize, parseSize } from '../util/size.js';

interface StoreArgs extends EtcdArgs {
  advertise?: string;
  socket: string;
  memory: string;
  dir?: string;
  hugepages: boolean;
  'external-store'?: string;
  region?: string;
  'node-name'?: string;
  'log-level': LogLevel;
  'max-frame': string;
  listen?: string;
  peer?: string[];
  cluster?: string;
  'lease-ms': number;
  'peer-timeout-ms': number;
  'departed-ttl-ms': number;
  transport: 'auto' | 'shared' | 'copy';
  insecure: boolean;
  'tls-ca'?: string;
  'tls-cert'?: string;
  'tls-key'?: string;
  'secret-file'?: string;
  metrics?: string;
  'log-file'?: string;
}

/** Cluster options from the command line, or undefined for a single store. */
function clusterOptions(args: StoreArgs, log: Logger): ClusterOptions | undefined {
  const nodeName = args['node-name'] ?? os.hostname();
  const etcd = etcdOptionsFrom(args);
  if (args.advertise && !/^[^\s]+:\d+$/.test(args.advertise)) throw new Error(`invalid --advertise "${args.advertise}": use HOST:PORT`);
  if (etcd && (args.peer?.length || args.cluster)) {
    throw new Error('--etcd replaces --peer and --cluster (members find each other in etcd): pass one or the other');
  }
  if (!etcd && args.advertise) throw new Error('--advertise is for --etcd (it is the address this store registers)');
  let peers: MemberAddress[] = (args.peer ?? []).map(parsePeerFlag);
  let listen = args.listen;
  let secretFile = args['secret-file'];
  if (args.cluster) {
    secretFile ??= clusterSecretFileOf(args.cluster);
    const members = readClusterFile(args.cluster);
    const self = members.find((m) => m.name === nodeName);
    if (!self) throw new Error(`node "${nodeName}" is not in cluster file ${args.cluster}: pass --node-name with one of its names`);
    listen ??= self.address;
    peers = [...peers, ...members.filter((m) => m.name !== nodeName)];
  }
  if (!listen && peers.length === 0 && !etcd) return undefined;
  if (!listen) throw new Error(`${etcd ? '--etcd' : '--peer'} needs --listen HOST:PORT for this store's own gRPC address`);
  if (etcd && /^(0\.0\.0\.0|\[::\]|::):\d+$/.test(listen) && !args.advertise) {
    throw new Error(`--listen ${listen} is not an address peers can use: pass --advertise HOST:PORT (the address they should call)`);
  }
  const self = { name: nodeName, address: listen };
  const membership: Membership = etcd ? new EtcdMembership(self, etcd, log) : new StaticMembership(self, peers);
  const tls = tlsFilesFrom(args);
  return {
    membership,
    advertise: args.advertise,
    leaseMs: args['lease-ms'],
    peerTimeoutMs: args['peer-timeout-ms'],
    departedTtlMs: args['departed-ttl-ms'],
    transport: args.transport,
    insecure: args.insecure,
    tls,
    secret: secretFile ? readSecretFile(secretFile) : undefined,
  };
}

export const storeCommand: CommandModule<object, StoreArgs> = {
  command: 'store',
  describe: 'run a Plasma-compatible store (accepts plasma_store flags)',
  builder: (y) =>
    etcdFlags(y)
      .option('socket', { alias: 's', type: 'string', default: '/tmp/plasmapool.sock', describe: 'Unix socket to listen on' })
      .option('memory', {
        alias: 'm',
        type: 'string',
        default: '1GiB',
        describe: 'capacity: bytes (100000000) or with a unit (512MB, 4GiB)',
      })
      .option('dir', { alias: 'd', type: 'string', describe: 'directory for the region file (default /dev/shm)' })
      .option('hugepages', { alias: 'h', type: 'boolean', default: false, describe: '--dir is a hugetlbfs mount' })
      .option('external-store', {
        alias: 'e',
        type: 'string',
        describe: 'where evicted objects go: hashtable://NAME or file:///DIR',
      })
      .option('region', { type: 'string', describe: 'use this file or DAX device (/dev/daxX.Y) as the region' })
      .option('node-name', { type: 'string', describe: 'node name written into the region header (default: host name)' })
      .option('log-level', {
        type: 'string',
        choices: ['debug', 'info', 'warn', 'error', 'silent'] as const,
        default: 'warn' as LogLevel,
        describe: 'stderr log level',
      })
      .option('max-frame', { type: 'string', default: '1GiB', describe: 'largest request a client may send' })
      .option('listen', { type: 'string', describe: 'cluster: this store\'s gRPC address HOST:PORT (127.0.0.1 unless TLS or --insecure)' })
      .option('peer', { type: 'string', array: true, describe: 'cluster: a peer store NAME=HOST:PORT (repeatable)' })
      .option('cluster', { type: 'string', describe: 'cluster: JSON file {"nodes":[{"name","address"}]} (this node by --node-name)' })
      .option('lease-ms', { type: 'number', default: 10_000, describe: 'cluster: how long pins of a silent peer survive' })
      .option('peer-timeout-ms', { type: 'number', default: 1_000, describe: 'cluster: how fast a call to a dead peer fails' })
      .option('departed-ttl-ms', {
        type: 'number',
        default: 600_000,
        describe: 'cluster (etcd): how long ids of a member that left stay reserved for it; a member returning later drops those another node re-created',
      })
      .option('transport', {
        type: 'string',
        choices: ['auto', 'shared', 'copy'] as const,
        default: 'auto' as const,
        describe: 'cluster: read peer regions in place (shared), copy over the network (copy), or map when possible (auto)',
      })
      .option('advertise', { type: 'string', describe: 'cluster (--etcd): the gRPC address HOST:PORT peers use, when --listen is 0.0.0.0' })
      .option('insecure', { type: 'boolean', default: false, describe: 'cluster: allow a non-loopback --listen without TLS' })
      .option('secret-file', {
        type: 'string',
        describe: 'cluster: file holding the cluster secret every peer call must carry (0600; default: the cluster file\'s "secretFile")',
      })
      .option('tls-ca', { type: 'string', describe: 'cluster: CA certificate (PEM) that signs every node' })
      .option('tls-cert', { type: 'string', describe: 'cluster: this node\'s certificate (PEM)' })
      .option('tls-key', { type: 'string', describe: 'cluster: this node\'s private key (PEM)' })
      .option('metrics', {
        type: 'string',
        describe: 'serve Prometheus metrics at http://HOST:PORT/metrics (loopback unless --tls-cert/--tls-key or --insecure)',
      })
      .option('log-file', { type: 'string', describe: 'append logs (JSON lines) to this file instead of stderr; SIGHUP reopens it' })
      .config('config', 'read options from a JSON or YAML file (keys are the long flag names); flags override it', loadConfigFile)
      .check((args) => {
        if (args.hugepages && !args.dir) throw new Error('--hugepages (-h) needs --dir (-d) pointing at a hugetlbfs mount');
        return true;
      }) as never,
  handler: async (args) => {
    setLogLevel(args['log-level']);
    if (args['log-file']) setLogFile(args['log-file']);
    const log = createLogger('store');
    // Signals may arrive while the store is still starting (the socket exists before we return):
    // catch them from the first moment, so that SIGTERM always means a clean exit 0.
    let handle: StoreHandle | null = null;
    let metrics: MetricsServer | null = null;
    let stopRequested: string | null = null;
    let stopping = false;
    const shutdown = (signal: string) => {
      stopRequested ??= signal;
      // A second signal (SIGTERM to the whole process group, then again from a supervisor) must
      // not kill the store halfway through removing its socket: handle every one, act once.
      if (!handle || stopping) return;
      stopping = true;
      log.info('shutting down', { signal });
      void Promise.all([metrics?.close(), handle.close()]).then(() => process.exit(0));
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
    // Bad values are usage errors (exit 2), found before anything starts.
    let memory: number, maxFrameBytes: number, cluster: ClusterOptions | undefined;
    try {
      memory = parseSize(args.memory);
      maxFrameBytes = parseSize(args['max-frame']);
      cluster = clusterOptions(args, log);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    try {
      handle = await startNode({
        socketPath: args.socket,
        memory,
        directory: args.dir,
        hugepages: args.hugepages,
        externalStore: args['external-store'],
        regionPath: args.region,
        nodeName: args['node-name'],
        maxFrameBytes,
        cluster,
        log,
      });
      if (args.metrics) {
        const tls = args['tls-cert'] && args['tls-key'] ? { cert: args['tls-cert'], key: args['tls-key'] } : undefined;
        metrics = await startMetricsServer(storeMetrics(handle, handle.region.nodeName), { address: args.metrics, tls, insecure: args.insecure });
      }
    } catch (error) {
      await handle?.close();
      process.stderr.write(`plasmapool store: ${(error as Error).message}\n`);
      process.exit(1);
    }
    const clusterPart = handle.cluster ? `, node ${handle.region.nodeName}, grpc ${handle.cluster.grpcAddress}` : '';
    const metricsPart = metrics ? `, metrics ${metrics.url}` : '';
    process.stdout.write(
      `plasmapool store ready: socket ${handle.socketPath}, capacity ${handle.capacity} bytes (${formatSize(handle.capacity)}), region ${handle.regionPath}${clusterPart}${metricsPart}\n`,
    );
    if (stopRequested) shutdown(stopRequested);
  },
};
