/**
 * `plasmapool get`, `rm` and `evict`: act on one running store through the ordinary Plasma
 * requests (Get, Delete, Evict), as any client would.
 */
import fs from 'node:fs';
import { tableFromIPC, type Table } from 'apache-arrow';
import type { Argv, CommandModule } from 'yargs';
import { storeObjects } from '../client/admin-query.js';
import { connect, type PlasmaClient } from '../client/plasma-client.js';
import { ObjectId } from '../protocol/object-id.js';
import { formatSize, parseSize } from '../util/size.js';
import { socketOptions, type SocketArgs } from './inspect-commands.js';
import { renderTable, writeJson } from './output.js';
import { UsageError } from './usage-error.js';

function parseId(text: string): ObjectId {
  try {
    return ObjectId.fromHex(String(text));
  } catch {
    throw new UsageError(`"${text}" is not an object id: give 40 hex digits, as \`plasmapool ls\` prints them`);
  }
}

async function withClient<T>(socket: string, work: (client: PlasmaClient) => Promise<T>): Promise<T> {
  const client = await connect(socket, { retries: 0 });
  try {
    return await work(client);
  } finally {
    client.close();
  }
}

/** An Arrow table if the bytes are an Arrow IPC stream with a schema, else null. */
function arrowTableOf(data: Uint8Array): Table | null {
  try {
    const table = tableFromIPC(data);
    return table.schema.fields.length > 0 ? table : null;
  } catch {
    return null;
  }
}

/** JSON-safe cell values (bigint, typed arrays, nested rows). */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<unknown>, plain);
  if (value && typeof value === 'object' && 'toJSON' in value) return plain((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function metadataText(metadata: Uint8Array): string {
  const text = Buffer.from(metadata).toString('utf8');
  return /^[\x20-\x7e]*$/.test(text) ? text : `0x${Buffer.from(metadata).toString('hex')}`;
}

interface GetArgs extends SocketArgs {
  id: string;
  output?: string;
  rows: number;
  timeout: number;
}

export const getCommand: CommandModule<object, GetArgs> = {
  command: 'get <id>',
  describe: 'show one object: an Arrow object\'s schema and first rows; -o writes its data to a file',
  builder: (y) =>
    (socketOptions(y) as unknown as Argv<object>)
      .positional('id', { type: 'string', describe: 'object id (40 hex digits)' })
      .option('output', { alias: 'o', type: 'string', describe: 'write the object\'s data bytes to FILE (an Arrow object becomes an .arrows stream)' })
      .option('rows', { type: 'number', default: 10, describe: 'how many rows of an Arrow object to print' })
      .option('timeout', { type: 'number', default: 0, describe: 'wait up to this many ms for the object to be sealed' }) as never,
  handler: async (args) => {
    const id = parseId(args.id);
    if (!Number.isInteger(args.rows) || args.rows < 0) throw new UsageError(`--rows must be a whole number ≥ 0, got ${args.rows}`);
    await withClient(args.socket, async (client) => {
      const object = await client.getOne(id, { timeoutMs: args.timeout });
      if (!object) throw new Error(`object ${id.hex} is not in the store at ${args.socket} (or not sealed yet)`);
      try {
        const data = object.data;
        if (args.output) fs.writeFileSync(args.output, data);
        const table = arrowTableOf(data);
        const shown = table ? table.slice(0, args.rows) : null;
        if (args.json) {
          return writeJson({
            id: id.hex,
            dataSize: object.dataSize,
            metadataSize: object.metadataSize,
            metadata: metadataText(object.metadata),
            ...(args.output ? { output: args.output } : {}),
            arrow: table
              ? {
                  numRows: table.numRows,
                  schema: table.schema.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable })),
                  rows: shown!.toArray().map((row) => plain(row)),
                }
              : null,
          });
        }
        const out: string[] = [`object ${id.hex}: ${formatSize(object.dataSize)} data, ${object.metadataSize} B metadata${object.metadataSize ? ` (${metadataText(object.metadata)})` : ''}`];
        if (args.output) out.push(`wrote ${object.dataSize} bytes to ${args.output}`);
        if (table) {
          out.push(`Arrow table: ${table.numRows} rows, ${table.numCols} columns`, 'schema:');
          for (const field of table.schema.fields) out.push(`  ${field.name}: ${String(field.type)}${field.nullable ? '' : ' not null'}`);
          if (shown!.numRows > 0) {
            const names = table.schema.fields.map((f) => f.name);
            const rows = shown!.toArray().map((row) => (row as { toJSON(): Record<string, unknown> }).toJSON());
            out.push(`first ${shown!.numRows} rows:`);
            out.push(renderTable(rows, names.map((name) => ({ header: name, value: (r: Record<string, unknown>) => cell(r[name]) }))).trimEnd());
          }
        } else {
          out.push(`not an Arrow IPC stream; first bytes: ${Buffer.from(data.subarray(0, 32)).toString('hex')}`);
        }
        process.stdout.write(`${out.join('\n')}\n`);
      } finally {
        object.release();
      }
    });
  },
};

function cell(value: unknown): string {
  const p = plain(value);
  return p === null || p === undefined ? 'null' : typeof p === 'object' ? JSON.stringify(p) : String(p);
}

interface RmArgs extends SocketArgs {
  ids: string[];
}

export const rmCommand: CommandModule<object, RmArgs> = {
  command: 'rm <ids..>',
  describe: 'delete objects (ones in use go when their last reader releases them)',
  builder: (y) => (socketOptions(y) as unknown as Argv<object>).positional('ids', { type: 'string', array: true, describe: 'object ids' }) as never,
  handler: async (args) => {
    const ids = args.ids.map(parseId);
    const known = new Map((await storeObjects(args.socket)).map((o) => [o.id, o]));
    const results = ids.map((id) => {
      const object = known.get(id.hex);
      if (!object || object.location.kind === 'peer') return { id: id.hex, result: 'not found' as const };
      return { id: id.hex, result: object.pins > 0 || object.state === 'created' ? ('deleted when released' as const) : ('deleted' as const) };
    });
    const present = ids.filter((_, i) => results[i]!.result !== 'not found');
    if (present.length > 0) await withClient(args.socket, (client) => client.delete(present));
    if (args.json) writeJson({ socket: args.socket, results });
    else for (const r of results) process.stdout.write(`${r.id}  ${r.result}\n`);
    const missing = results.filter((r) => r.result === 'not found');
    if (missing.length > 0) {
      process.stderr.write(`plasmapool rm: ${missing.length} of ${ids.length} objects not found in the store at ${args.socket}\n`);
      process.exitCode = 1;
    }
  },
};

interface EvictArgs extends SocketArgs {
  bytes: string;
}

export const evictCommand: CommandModule<object, EvictArgs> = {
  command: 'evict <bytes>',
  describe: 'evict at least BYTES (512MB, 1GiB…) of unpinned objects, least recently used first',
  builder: (y) => (socketOptions(y) as unknown as Argv<object>).positional('bytes', { type: 'string', describe: 'how much to evict' }) as never,
  handler: async (args) => {
    let bytes: number;
    try {
      bytes = parseSize(String(args.bytes));
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const evicted = await withClient(args.socket, (client) => client.evict(bytes));
    if (args.json) writeJson({ socket: args.socket, requested: bytes, evicted });
    else process.stdout.write(`evicted ${formatSize(evicted)} (${evicted} bytes; asked for ${formatSize(bytes)})\n`);
  },
};
