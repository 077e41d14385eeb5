/**
 * `plasmapool store`: a Plasma store that accepts the reference plasma_store flags
 * (`-s SOCKET -m BYTES [-d DIR] [-h] [-e ENDPOINT]`) and readable long options.
 */
import type { CommandModule } from 'yargs';
import { startStore } from '../store/server.js';
import { createLogger, setLogLevel, type LogLevel } from '../util/log.js';
import { formatSize, parseSize } from '../util/size.js';

interface StoreArgs {
  socket: string;
  memory: string;
  dir?: string;
  hugepages: boolean;
  'external-store'?: string;
  region?: string;
  'node-name'?: string;
  'log-level': LogLevel;
  'max-frame': string;
}

export const storeCommand: CommandModule<object, StoreArgs> = {
  command: 'store',
  describe: 'run a Plasma-compatible store (accepts plasma_store flags)',
  builder: (y) =>
    y
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
      .check((args) => {
        if (args.hugepages && !args.dir) throw new Error('--hugepages (-h) needs --dir (-d) pointing at a hugetlbfs mount');
        return true;
      }) as never,
  handler: async (args) => {
    setLogLevel(args['log-level']);
    const log = createLogger('store');
    let handle;
    try {
      handle = await startStore({
        socketPath: args.socket,
        memory: parseSize(args.memory),
        directory: args.dir,
        hugepages: args.hugepages,
        externalStore: args['external-store'],
        regionPath: args.region,
        nodeName: args['node-name'],
        maxFrameBytes: parseSize(args['max-frame']),
        log,
      });
    } catch (error) {
      process.stderr.write(`plasmapool store: ${(error as Error).message}\n`);
      process.exit(1);
    }
    process.stdout.write(
      `plasmapool store ready: socket ${handle.socketPath}, capacity ${handle.capacity} bytes (${formatSize(handle.capacity)}), region ${handle.regionPath}\n`,
    );
    const shutdown = (signal: string) => {
      log.info('shutting down', { signal });
      void handle.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  },
};
