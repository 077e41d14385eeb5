/**
 * The copy-based exchange the shared-memory shuffle is compared with, done the way a shuffle
 * without shared memory does it: each mapper serializes every partition as an Arrow IPC stream
 * and sends it over a Unix socket to the reducer that owns the partition; the reducer receives
 * the bytes into its own buffer and opens them as a table. The serializer is the same one putTable
 * uses (straight into one buffer, no tableToIPC detour), so the comparison measures the exchange.
 *
 * Frame, one per connection: "PPSX", u32 header length (LE), JSON header {job, mapper, partition,
 * bytes}, then `bytes` of IPC stream. The reducer answers one byte (1) once it holds all of it.
 */
import net from 'node:net';
import fs from 'node:fs';
import { RecordBatchStreamWriter, Table, tableFromIPC, type RecordBatch, type Schema } from 'apache-arrow';
import { ipcStreamSize } from './table-objects.js';
import { TargetSink } from './ipc-sinks.js';
import { missingPartitionMessage, ShufflePartitionMissingError } from './shuffle.js';

const MAGIC = 0x58535050; // "PPSX" read as a little-endian u32

interface FrameHeader {
  job: string;
  mapper: number;
  partition: number;
  bytes: number;
}

/** Serialize batches as one IPC stream into a fresh buffer of exactly the right size. */
export function serializeIpc(schema: Schema, batches: readonly RecordBatch[]): Buffer {
  const size = ipcStreamSize(schema, batches);
  const out = Buffer.allocUnsafeSlow(size);
  const sink = new TargetSink(out);
  const writer = new RecordBatchStreamWriter({ autoDestroy: false });
  writer.reset(sink as never, schema);
  for (const batch of batches) writer.write(batch);
  writer.finish();
  return out;
}

async function connectWithRetry(socketPath: string, deadline: number): Promise<net.Socket> {
  for (;;) {
    try {
      return await new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(socketPath);
        socket.once('connect', () => {
          socket.off('error', reject);
          resolve(socket);
        });
        socket.once('error', reject);
      });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline) {
        throw new Error(`cannot reach the reducer at ${socketPath}: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Send one serialized partition and wait until the reducer confirms it holds all of it. */
async function sendFrame(socketPath: string, header: FrameHeader, body: Uint8Array, connectTimeoutMs: number): Promise<void> {
  const socket = await connectWithRetry(socketPath, Date.now() + connectTimeoutMs);
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.allocUnsafe(8);
  prefix.writeUInt32LE(MAGIC, 0);
  prefix.writeUInt32LE(json.byteLength, 4);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (error) => reject(new Error(`sending partition ${header.partition} to ${socketPath} failed: ${error.message}`)));
    socket.once('data', () => {
      socket.end();
      resolve();
    });
    socket.once('close', () => reject(new Error(`the reducer at ${socketPath} closed the connection before confirming partition ${header.partition}`)));
    socket.write(prefix);
    socket.write(json);
    socket.write(body);
  });
}

export interface SendTimings {
  /** Serializing the partitions to IPC bytes. */
  serializeMs: number;
  /** From the first byte sent to the last reducer's confirmation. */
  sendMs: number;
  bytes: number[];
}

/**
 * Send partition p of this mapper to `reducerSockets[p]`, for every p. Serializes one partition
 * at a time while earlier ones are still on their way.
 */
export async function sendPartitions(
  reducerSockets: readonly string[],
  header: { job: string; mapper: number },
  schema: Schema,
  batches: RecordBatch[][],
  connectTimeoutMs = 30_000,
): Promise<SendTimings> {
  let serializeMs = 0;
  const t0 = performance.now();
  const sends: Promise<void>[] = [];
  const bytes: number[] = [];
  for (let p = 0; p < batches.length; p++) {
    const s = performance.now();
    const body = serializeIpc(schema, batches[p]!);
    serializeMs += performance.now() - s;
    bytes.push(body.byteLength);
    batches[p] = [];
    sends.push(sendFrame(reducerSockets[p]!, { ...header, partition: p, bytes: body.byteLength }, body, connectTimeoutMs));
    // Let the event loop push this partition out before serializing the next one.
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(sends);
  return { serializeMs, sendMs: performance.now() - t0 - serializeMs, bytes };
}

export interface ReceivedPartition {
  /** Joined from all mappers' tables (no further copy: its chunks are the received batches). */
  table: Table;
  rowsPerMapper: number[];
  /** Bytes received from each mapper. */
  bytes: number[];
  /** Opening the received bytes as tables and joining them, in ms. */
  openMs: number;
  /** The received bytes of each mapper (the table's columns view them). */
  buffers: Buffer[];
}

/**
 * A reducer's side: listens on a Unix socket and collects partition `partition` from `mappers`
 * mappers, each received into one buffer of its own (8-byte aligned, so opening it is zero-copy).
 */
export class PartitionReceiver {
  private readonly received = new Map<number, Buffer>();
  private readonly waiters: (() => void)[] = [];
  private failure: Error | null = null;

  private constructor(
    readonly socketPath: string,
    private readonly server: net.Server,
    readonly job: string,
    readonly partition: number,
    readonly mappers: number,
  ) {}

  /** Start listening (replacing a stale socket file of an earlier run). */
  static async listen(socketPath: string, job: string, partition: number, mappers: number): Promise<PartitionReceiver> {
    fs.rmSync(socketPath, { force: true });
    const server = net.createServer();
    const receiver = new PartitionReceiver(socketPath, server, job, partition, mappers);
    server.on('connection', (socket) => receiver.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return receiver;
  }

  private accept(socket: net.Socket): void {
    let head: Buffer = Buffer.alloc(0);
    let header: FrameHeader | null = null;
    let body: Buffer | null = null;
    let filled = 0;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      if (!header) {
        head = head.byteLength ? Buffer.concat([head, chunk]) : chunk;
        if (head.byteLength < 8) return;
        if (head.readUInt32LE(0) !== MAGIC) return this.reject(socket, 'a connection that is not a shuffle sender');
        const jsonLength = head.readUInt32LE(4);
        if (head.byteLength < 8 + jsonLength) return;
        header = JSON.parse(head.subarray(8, 8 + jsonLength).toString()) as FrameHeader;
        if (header.job !== this.job || header.partition !== this.partition || !(header.mapper >= 0 && header.mapper < this.mappers)) {
          return this.reject(socket, `a frame for job ${header.job} partition ${header.partition} mapper ${header.mapper}`);
        }
        body = Buffer.allocUnsafeSlow(header.bytes);
        chunk = head.subarray(8 + jsonLength);
      }
      const n = Math.min(chunk.byteLength, body!.byteLength - filled);
      chunk.copy(body!, filled, 0, n);
      filled += n;
      if (filled === body!.byteLength) {
        this.received.set(header.mapper, body!);
        socket.write(Buffer.of(1));
        for (const wake of this.waiters.splice(0)) wake();
      }
    });
  }

  private reject(socket: net.Socket, what: string): void {
    socket.destroy();
    this.failure = new Error(`reducer ${this.partition} of job ${this.job} received ${what}`);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Mappers whose partition has arrived so far. */
  get arrived(): number[] {
    return [...this.received.keys()].sort((a, b) => a - b);
  }

  /** Wait (up to timeoutMs) for every mapper's partition, then open and join them. */
  async collect(timeoutMs = 30_000): Promise<ReceivedPartition> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.size < this.mappers && !this.failure) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    if (this.failure) throw this.failure;
    const missing = Array.from({ length: this.mappers }, (_, m) => m).filter((m) => !this.received.has(m));
    if (missing.length > 0) {
      const lines = missing.map((m) => missingPartitionMessage(this.job, this.partition, m, timeoutMs, false, 'received'));
      throw new ShufflePartitionMissingError(lines.join('\n'), this.job, this.partition, missing);
    }
    const t0 = performance.now();
    const buffers = Array.from({ length: this.mappers }, (_, m) => this.received.get(m)!);
    const tables = buffers.map((buffer) => tableFromIPC(buffer));
    const table = new Table(tables[0]!.schema, tables.flatMap((t) => t.batches));
    return {
      table,
      rowsPerMapper: tables.map((t) => t.numRows),
      bytes: buffers.map((b) => b.byteLength),
      openMs: performance.now() - t0,
      buffers,
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    fs.rmSync(this.socketPath, { force: true });
  }
}
