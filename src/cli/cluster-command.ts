/**
 * `plasmapool cluster up` starts N local stores that form one cluster; `plasmapool cluster status`
 * asks each node of a cluster for its state.
 */
import path from 'node:path';
import type { CommandModule } from 'yargs';
import { startLocalCluster } from '../cluster/local-cluster.js';
import { readClusterFile } from '../cluster/membership.js';
import { accessFromClusterFile, queryStatus } from '../cluster/status-client.js';
import { formatSize, parseSize } from '../util/size.js';

interface UpArgs {
  nodes: number;
  memory: string;
  dir: string;
  transport: 'auto' | 'shared' | 'copy';
}

const up: CommandModule<object, UpArgs> = {
  command: 'up',
  describe: 'start N local stores forming one cluster; Ctrl-C stops them all',
  builder: (y) =>
    y
      .option('nodes', { type: 'number', default: 3, describe: 'number of stores' })
      .option('memory', { type: 'string', default: '1GiB', describe: 'capacity of each store' })
      .option('dir', { type: 'string', default: '/tmp/plasmapool-cluster', describe: 'where the sockets (*.sock) and cluster.json go' })
      .option('transport', { type: 'string', choices: ['auto', 'shared', 'copy'] as const, default: 'auto' as const })
      .check((args) => {
        if (!Number.isInteger(args.nodes) || args.nodes < 1 || args.nodes > 64) throw new Error('--nodes must be between 1 and 64');
        parseSize(args.memory);
        return true;
      }) as never,
  handler: async (args) => {
    const dir = path.resolve(args.dir);
    const cluster = await startLocalCluster({
      nodes: args.nodes,
      memory: args.memory,
      dir,
      transport: args.transport,
      onLog: (node, line) => process.stderr.write(`[${node}] ${line}\n`),
    });
    process.stdout.write(`plasmapool cluster up: ${cluster.nodes.length} stores, ${args.memory} each (cluster file ${cluster.clusterFile})\n`);
    for (const node of cluster.nodes) process.stdout.write(`  ${node.name}  socket ${node.socketPath}  grpc ${node.address}\n`);
    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      await cluster.close();
      process.exit(code);
    };
    for (const node of cluster.nodes) {
      node.process.once('exit', (code, signal) => {
        if (stopping) return;
        process.stderr.write(`plasmapool cluster: ${node.name} exited (code ${code}, signal ${signal}); stopping the others\n`);
        void stop(1);
      });
    }
    process.once('SIGINT', () => void stop(0));
    process.once('SIGTERM', () => void stop(0));
  },
};

interface StatusArgs {
  dir: string;
  cluster?: string;
  'secret-file'?: string;
}

const status: CommandModule<object, StatusArgs> = {
  command: 'status',
  describe: 'show the nodes of a cluster: capacity, objects, peers and transports',
  builder: (y) =>
    y
      .option('dir', { type: 'string', default: '/tmp/plasmapool-cluster', describe: 'directory of `cluster up`' })
      .option('cluster', { type: 'string', describe: 'cluster file (default DIR/cluster.json)' })
      .option('secret-file', { type: 'string', describe: 'the cluster secret (default: the cluster file\'s "secretFile")' }) as never,
  handler: async (args) => {
    const file = args.cluster ?? path.join(args.dir, 'cluster.json');
    const members = readClusterFile(file);
    const access = accessFromClusterFile(file, { secretFile: args['secret-file'] });
    let failures = 0;
    for (const member of members) {
      try {
        const reply = await queryStatus(member.address, access);
        const peers = reply.peers.map((p) => `${p.node}:${p.connected ? p.transport : 'down'}`).join(' ');
        process.stdout.write(
          `${member.name.padEnd(10)} ${member.address.padEnd(21)} up    capacity ${formatSize(reply.capacity).padStart(10)}  used ${formatSize(reply.allocated).padStart(10)}  objects ${String(reply.objects).padStart(7)}  clients ${reply.clients}  peers ${peers}\n`,
        );
      } catch (error) {
        failures++;
        process.stdout.write(`${member.name.padEnd(10)} ${member.address.padEnd(21)} DOWN  ${(error as Error).message}\n`);
      }
    }
    process.exitCode = failures === 0 ? 0 : 1;
  },
};

export const clusterCommand: CommandModule = {
  command: 'cluster <command>',
  describe: 'run and inspect a cluster of stores',
  builder: (y) => y.command(up).command(status).demandCommand(1),
  handler: () => undefined,
};
