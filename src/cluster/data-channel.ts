/**
 * The copy transport's bulk byte path: a plain TCP (or TLS) connection per transfer, next to the
 * gRPC service. gRPC over HTTP/2 moves about 0.1–0.25 GB/s here, whatever the chunk size; a raw
 * socket moves several GB/s, writing straight from the owner's region and reading straight into
 * the receiver's.
 *
 * The Fetch call (gRPC, authenticated like every call) negotiates it: the caller asks with the
 * request metadata `pp-transfer: data-connection`; the owner pins the object, answers with
 * initial metadata `pp-data-port` and a one-time `pp-data-token`, then the usual header chunk.
 * The caller connects to that port at the owner's host, sends the 16-byte token, and reads
 * exactly data_size + metadata_size bytes; the owner then ends the Fetch stream. The caller checks
 * the bytes against the Plasma digest the creator recorded at seal (DigestStream).
 */
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../util/log.js';

export const TRANSFER_HEADER = 'pp-transfer';
export const TRANSFER_DATA_CONNECTION = 'data-connection';
export const DATA_PORT_HEADER = 'pp-data-port';
export const DATA_TOKEN_HEADER = 'pp-data-token';
const TOKEN_BYTES = 16;
/** Bytes per write on the owner side: big enough for few syscalls, small enough to interleave. */
const WRITE_SLICE = 8 << 20;
/** Bytes per read on the receiving side (straight into the target). */
const READ_SLICE = 4 << 20;

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

interface Offer {
  parts: Uint8Array[];
  settle(error: Error | null): void;
  timer: NodeJS.Timeout;
}

/**
 * Owner side: serves offered objects to whoever presents the offer's token, once; and hands
 * connections presenting a channel token (peer-channel.ts) to that channel's handler.
 */
export class DataServer {
  private readonly offers = new Map<string, Offer>();
  private readonly channels = new Map<string, (socket: net.Socket, first: Buffer) => void>();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    tlsMaterial: TlsMaterial | undefined,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {
    const onConnection = (socket: net.Socket) => this.serve(socket);
    this.server = tlsMaterial
      ? tls.createServer({ ca: tlsMaterial.ca, cert: tlsMaterial.cert, key: tlsMaterial.key, requestCert: true, rejectUnauthorized: true }, onConnection)
      : net.createServer(onConnection);
    this.server.on('error', (error) => this.log.warn('data connection server error', { error: error.message }));
  }

  /** Listen on `host` (port 0: any free port); resolves with the port. */
  listen(host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, host.replace(/^\[|\]$/g, ''), () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /**
   * Offer these bytes to one connection. Resolves once they were all handed to the kernel (the
   * caller may unpin then); rejects if nobody comes within the timeout or the connection fails.
   */
  offer(parts: Uint8Array[]): { token: string; sent: Promise<void>; cancel(): void } {
    const token = crypto.randomBytes(TOKEN_BYTES).toString('hex');
    let settle!: (error: Error | null) => void;
    const sent = new Promise<void>((resolve, reject) => {
      settle = (error) => {
        const offer = this.offers.get(token);
        if (offer) {
          clearTimeout(offer.timer);
          this.offers.delete(token);
        }
        if (error) reject(error);
        else resolve();
      };
    });
    const timer = setTimeout(() => settle(new Error(`no data connection within ${this.timeoutMs} ms`)), this.timeoutMs);
    this.offers.set(token, { parts, settle, timer });
    return { token, sent, cancel: () => settle(new Error('transfer cancelled')) };
  }

  /** A token that admits any number of connections to `handler` (until revoked). */
  openChannel(handler: (socket: net.Socket, first: Buffer) => void): { token: string; revoke(): void } {
    const token = crypto.randomBytes(TOKEN_BYTES).toString('hex');
    this.channels.set(token, handler);
    return { token, revoke: () => this.channels.delete(token) };
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // reported through the offer, if one was taken
    socket.setNoDelay(true);
    const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.byteLength < TOKEN_BYTES) return;
      socket.off('data', onData);
      socket.pause();
      clearTimeout(timer);
      const token = received.subarray(0, TOKEN_BYTES).toString('hex');
      const channel = this.channels.get(token);
      if (channel) return channel(socket, received.subarray(TOKEN_BYTES));
      const offer = this.offers.get(token);
      if (!offer || received.byteLength !== TOKEN_BYTES) {
        socket.destroy();
        return;
      }
      // One connection per token: a replayed token finds nothing.
      this.offers.delete(token);
      clearTimeout(offer.timer);
      void this.send(socket, offer);
    };
    socket.on('data', onData);
  }

  private async send(socket: net.Socket, offer: Offer): Promise<void> {
    let failed: Error | null = null;
    const onError = (error: Error) => (failed = error);
    socket.on('error', onError);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    try {
      for (const part of offer.parts) {
        for (let at = 0; at < part.byteLength && !failed; at += WRITE_SLICE) {
          if (!socket.write(part.subarray(at, at + WRITE_SLICE))) {
            await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
          }
          if (socket.destroyed) failed ??= new Error('data connection closed by the receiver');
        }
      }
      if (!failed) await new Promise<void>((resolve) => socket.end(resolve));
    } catch (error) {
      failed = error as Error;
    }
    if (failed) socket.destroy();
    offer.settle(failed);
  }

  close(): void {
    for (const offer of [...this.offers.values()]) offer.settle(new Error('store shutting down'));
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }
}

/**
 * Receiver side: connect, present the token, read exactly `target.byteLength` bytes into `target`,
 * calling `progress` with each piece as it lands. Resolves when every byte arrived and the owner
 * closed the connection.
 */
export function receiveInto(
  address: { host: string; port: number },
  token: string,
  target: Uint8Array,
  tlsMaterial: TlsMaterial | undefined,
  progress: (piece: Uint8Array) => void,
): { done: Promise<void>; cancel(): void } {
  let position = 0;
  let overflow = false;
  const total = target.byteLength;
  let socket: net.Socket;
  const done = new Promise<void>((resolve, reject) => {
    const host = address.host.replace(/^\[|\]$/g, '');
    const onPiece = (piece: Uint8Array) => {
      if (position + piece.byteLength > total) {
        overflow = true;
        socket.destroy(new Error(`the owner sent more than the ${total} bytes announced`));
        return;
      }
      if (piece.buffer !== target.buffer || piece.byteOffset !== target.byteOffset + position) target.set(piece, position);
      position += piece.byteLength;
      progress(target.subarray(position - piece.byteLength, position));
    };
    if (tlsMaterial) {
      // TLS sockets have no `onread`: pieces arrive in Node's buffers and are copied once.
      socket = tls.connect({ host, port: address.port, ca: tlsMaterial.ca, cert: tlsMaterial.cert, key: tlsMaterial.key, servername: net.isIP(host) ? undefined : host });
      socket.on('data', (chunk: Buffer) => onPiece(chunk));
      socket.once('secureConnect', () => socket.write(Buffer.from(token, 'hex')));
    } else {
      const scratch = Buffer.alloc(64);
      socket = net.connect({
        host,
        port: address.port,
        onread: {
          // Straight into the target; bytes beyond it land in scratch and fail the transfer.
          buffer: () => (position < total ? target.subarray(position, Math.min(total, position + READ_SLICE)) : scratch),
          callback: (bytes: number, buffer: Uint8Array) => {
            onPiece(buffer.subarray(0, bytes));
            return !overflow;
          },
        },
      });
      socket.once('connect', () => {
        socket.setNoDelay(true);
        socket.write(Buffer.from(token, 'hex'));
      });
    }
    socket.once('error', (error) => reject(new Error(`data connection to ${host}:${address.port}: ${error.message}`)));
    socket.once('end', () => {
      if (position === total) resolve();
      else reject(new Error(`data connection closed after ${position} of ${total} bytes`));
    });
    socket.once('close', () => reject(new Error(`data connection closed after ${position} of ${total} bytes`)));
  });
  return { done, cancel: () => socket.destroy() };
}
