/**
 * `plasmapool ls` and `plasmapool stat`: what a running store holds, asked with the admin query
 * (docs/protocol.md §16).
 */
import type { CommandModule } from 'yargs';
import { storeObjects, storeStat } from '../client/admin-query.js';
import type { AdminObject, AdminStat, ObjectLocation } from '../protocol/admin.js';
import { formatSize } from '../util/size.js';
import { bytesWithExact, formatAge, renderTable, writeJson } from './output.js';

export const DEFAULT_SOCKET = '/tmp/plasmapool.sock';

export interface SocketArgs {
  socket: string;
  json: boolean;
}

export function socketOptions<T>(y: import('yargs').Argv<T>) {
  return y
    .option('socket', { alias: 's', type: 'string', default: DEFAULT_SOCKET, describe: 'Unix socket of the store' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON for scripts (sizes in bytes, times in Unix seconds)' });
}

export function describeLocation(location: ObjectLocation): string {
  switch (location.kind) {
    case 'local':
      return 'local';
    case 'external':
      return 'spilled (external store)';
    case 'peer':
      return `peer ${location.node} (mapped)`;
    case 'replica':
      return `copy of ${location.node}`;
  }
}

/** The `ls` table; `node` adds a first column (cluster ls). */
export function objectsTable(objects: readonly (AdminObject & { node?: string })[], withNode: boolean): string {
  const now = Math.floor(Date.now() / 1000);
  return renderTable(objects, [
    ...(withNode ? [{ header: 'NODE', value: (o: AdminObject & { node?: string }) => o.node ?? '' }] : []),
    { header: 'ID', value: (o) => o.id },
    { header: 'SIZE', value: (o) => formatSize(o.dataSize + o.metadataSize), right: true },
    { header: 'STATE', value: (o) => o.state },
    { header: 'AGE', value: (o) => formatAge(Math.max(0, now - o.createTime)), right: true },
    { header: 'PINS', value: (o) => String(o.pins), right: true },
    { header: 'LOCATION', value: (o) => describeLocation(o.location) },
  ]);
}

export const lsCommand: CommandModule<object, SocketArgs> = {
  command: 'ls',
  describe: 'list the objects of a running store: id, size, state, age, pins, location',
  builder: (y) => socketOptions(y) as never,
  handler: async (args) => {
    const objects = await storeObjects(args.socket);
    objects.sort((a, b) => a.createTime - b.createTime || a.id.localeCompare(b.id));
    if (args.json) return writeJson({ socket: args.socket, objects });
    if (objects.length === 0) return void process.stdout.write(`no objects in the store at ${args.socket}\n`);
    process.stdout.write(objectsTable(objects, false));
  },
};

function statLines(stat: AdminStat): [string, string][] {
  const lines: [string, string][] = [
    ['node', `${stat.node} (pid ${stat.pid}, up ${formatAge(stat.uptime)})`],
    ['socket', stat.socket],
    ['capacity', bytesWithExact(stat.capacity)],
    ['used', `${bytesWithExact(stat.used)}, ${stat.capacity > 0 ? ((100 * stat.used) / stat.capacity).toFixed(1) : '0.0'}%`],
    [
      'objects',
      `${stat.objects} (sealed ${stat.objectsByState.sealed}, being created ${stat.objectsByState.created}, spilled ${stat.objectsByState.evicted}; from peers ${stat.remoteObjects})`,
    ],
    ['clients', `${stat.clients} (${stat.subscribers} subscribed)`],
    ['requests', `${stat.nativeRequests + Object.values(stat.requests).reduce((a, b) => a + b, 0)} (${stat.nativeRequests} answered natively)`],
    ['evictions', `${stat.evictions} objects, ${bytesWithExact(stat.evictedBytes)}`],
    ['spilled objects', `${stat.spilledObjects} now; ${stat.spills} spilled (${bytesWithExact(stat.spilledBytes)}), ${stat.restores} restored`],
  ];
  if (stat.cluster) {
    lines.push(['grpc', stat.cluster.grpc]);
    lines.push([
      'peers',
      stat.cluster.peers.map((p) => `${p.node} ${p.connected ? `up (${p.transport})` : 'DOWN'}`).join(', ') || 'none',
    ]);
    lines.push(['remote gets', `${stat.remoteGets.shared} mapped, ${stat.remoteGets.copy} copied (${bytesWithExact(stat.copiedBytes)})`]);
    lines.push(['lease expiries', String(stat.leaseExpiries)]);
    lines.push(['claim conflicts', String(stat.claimConflicts)]);
  }
  return lines;
}

export const statCommand: CommandModule<object, SocketArgs> = {
  command: 'stat',
  describe: 'show a running store: capacity, used, objects, clients, evictions, spilled objects',
  builder: (y) => socketOptions(y) as never,
  handler: async (args) => {
    const stat = await storeStat(args.socket);
    if (args.json) return writeJson(stat);
    const lines = statLines(stat);
    const width = Math.max(...lines.map(([key]) => key.length));
    process.stdout.write(lines.map(([key, value]) => `${key.padEnd(width)}  ${value}\n`).join(''));
  },
};
