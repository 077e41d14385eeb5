/**
 * The copy transport: where a peer's region cannot be mapped here, its object's bytes are copied
 * into a local replica. The Fetch call pins the object at its owner and carries a header (sizes
 * and the digest recorded at seal); the bytes go over a data connection (data-channel.ts) when the
 * caller asks for one, or in-band as 4 MiB stream messages with a checksum otherwise. A copy over
 * the data connection is checked against the seal digest, end to end.
 */
import * as grpc from '@grpc/grpc-js';
import type { XXHashAPI } from 'xxhash-wasm';
import type { FetchedObject } from '../store/cluster-port.js';
import {
  DATA_PORT_HEADER,
  DATA_TOKEN_HEADER,
  receiveInto,
  TRANSFER_DATA_CONNECTION,
  TRANSFER_HEADER,
  type DataServer,
  type TlsMaterial,
} from './data-channel.js';
import { DigestStream } from './digest-stream.js';
import type { FetchChunk, PeerClient } from './peer-service.js';

/** The owner to fetch from, and what this side needs to receive. */
export interface FetchSource {
  client: PeerClient;
  /** The owner's gRPC address (its host is where the data connection goes). */
  address: string;
  node: string;
  /** This node's name, for the owner's pin. */
  holder: string;
  hash: XXHashAPI;
  tls: TlsMaterial | undefined;
  /** A transfer may take long; a peer silent for this long fails it. */
  timeoutMs: number;
}

/**
 * Copy one object into memory `allocate` provides; resolves once every byte is written and
 * verified, null if the owner no longer has it (or `allocate` found no room).
 */
export function fetchObject(
  peer: FetchSource,
  key: string,
  allocate: (dataSize: number, metadataSize: number) => Uint8Array | null,
): Promise<FetchedObject | null> {
  return new Promise((resolve, reject) => {
    const ask = new grpc.Metadata();
    ask.set(TRANSFER_HEADER, TRANSFER_DATA_CONNECTION);
    const stream = peer.client.fetch({ holder: peer.holder, id: Buffer.from(key, 'hex') }, ask);
    let target: Uint8Array | null = null;
    let header: FetchChunk | null = null;
    let position = 0;
    let settled = false;
    let offered: { port: number; token: string } | null = null;
    let receiving: { done: Promise<void>; cancel(): void } | null = null;
    const hasher = peer.hash.create64(0n);
    // A transfer may take long; a silent peer may not.
    const silent = () => fail(new Error(`fetch of ${key} from ${peer.node}: no data for ${peer.timeoutMs} ms`));
    let idle = setTimeout(silent, peer.timeoutMs);
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(silent, peer.timeoutMs);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      receiving?.cancel();
      stream.cancel();
      reject(error);
    };
    const finish = (value: FetchedObject | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      resolve(value);
    };
    const fetched = (): FetchedObject => ({
      key,
      dataSize: header!.dataSize,
      metadataSize: header!.metadataSize,
      digest: Uint8Array.from(header!.digest),
    });
    stream.on('metadata', (metadata: grpc.Metadata) => {
      const port = Number(metadata.get(DATA_PORT_HEADER)[0]);
      const token = metadata.get(DATA_TOKEN_HEADER)[0];
      if (Number.isInteger(port) && port > 0 && typeof token === 'string') offered = { port, token };
    });
    stream.on('data', (chunk: FetchChunk) => {
      touch();
      if (!header) {
        header = chunk;
        if (!chunk.found) return finish(null);
        target = allocate(chunk.dataSize, chunk.metadataSize);
        if (!target) {
          stream.cancel();
          return finish(null);
        }
        if (offered) return receiveOverDataConnection(offered, target, chunk);
      }
      if (chunk.bytes.byteLength > 0) {
        const total = header.dataSize + header.metadataSize;
        if (position + chunk.bytes.byteLength > total) return fail(new Error(`fetch of ${key} from ${peer.node}: more bytes than announced`));
        target!.set(chunk.bytes, position);
        hasher.update(chunk.bytes);
        position += chunk.bytes.byteLength;
      }
      if (chunk.checksum.byteLength === 8) {
        const total = header.dataSize + header.metadataSize;
        if (position !== total) return fail(new Error(`fetch of ${key} from ${peer.node}: ${position} of ${total} bytes arrived`));
        if (hasher.digest() !== chunk.checksum.readBigUInt64LE(0)) {
          return fail(new Error(`fetch of ${key} from ${peer.node}: checksum mismatch, the copy is corrupt`));
        }
        finish(fetched());
      }
    });
    // The bytes arrive on their own connection; the Fetch stream only ends when they are sent.
    const receiveOverDataConnection = (offer: { port: number; token: string }, into: Uint8Array, first: FetchChunk) => {
      const digest = new DigestStream(peer.hash, first.dataSize, first.metadataSize);
      receiving = receiveInto({ host: hostOf(peer.address), port: offer.port }, offer.token, into, peer.tls, (piece) => {
        touch();
        digest.update(piece);
      });
      receiving.done.then(() => {
        // Checked against the digest the creator recorded at seal: end to end, owner memory included.
        if (first.digest.byteLength === 8 && !Buffer.from(digest.digest()).equals(first.digest)) {
          return fail(new Error(`fetch of ${key} from ${peer.node}: the copy's digest differs from the one recorded at seal`));
        }
        finish(fetched());
      }, (error: Error) => fail(new Error(`fetch of ${key} from ${peer.node}: ${error.message}`)));
    };
    stream.on('error', (error: grpc.ServiceError) => fail(new Error(`fetch of ${key} from ${peer.node} failed: ${error.details || error.message}`)));
    stream.on('end', () => {
      if (!receiving) fail(new Error(`fetch of ${key} from ${peer.node}: stream ended early`));
    });
  });
}

/** An object pinned for the caller while it is sent; `done` unpins it. */
export interface PinnedObject {
  data: Uint8Array;
  metadata: Uint8Array;
  digest: Uint8Array;
  done(): void;
}

export interface ServeOptions {
  hash: XXHashAPI;
  /** Bytes per in-band message. */
  chunkBytes: number;
  dataServer: DataServer | null;
  dataPort: number;
}

/**
 * Owner side of Fetch: over the data connection when the caller asks for it, otherwise header,
 * chunks with back-pressure and checksum, all in-band. `object` is already pinned (null: not here).
 */
export async function serveFetch(
  call: grpc.ServerWritableStream<{ holder: string; id: Buffer }, FetchChunk>,
  object: PinnedObject | null,
  options: ServeOptions,
): Promise<void> {
  const empty = Buffer.alloc(0);
  if (!object) {
    call.write({ found: false, dataSize: 0, metadataSize: 0, digest: empty, bytes: empty, checksum: empty });
    call.end();
    return;
  }
  try {
    const header = {
      found: true,
      dataSize: object.data.byteLength,
      metadataSize: object.metadata.byteLength,
      digest: Buffer.from(object.digest),
      bytes: empty,
      checksum: empty,
    };
    const total = object.data.byteLength + object.metadata.byteLength;
    if (options.dataServer && total > 0 && call.metadata.get(TRANSFER_HEADER)[0] === TRANSFER_DATA_CONNECTION) {
      const offer = options.dataServer.offer([object.data, object.metadata]);
      const reply = new grpc.Metadata();
      reply.set(DATA_PORT_HEADER, String(options.dataPort));
      reply.set(DATA_TOKEN_HEADER, offer.token);
      call.sendMetadata(reply);
      call.on('cancelled', () => offer.cancel());
      call.write(header);
      try {
        await offer.sent;
        call.end();
      } catch (error) {
        if (!call.cancelled) call.emit('error', { code: grpc.status.UNAVAILABLE, details: `data connection: ${(error as Error).message}` });
      }
      return;
    }
    call.write(header);
    const hasher = options.hash.create64(0n);
    for (const part of [object.data, object.metadata]) {
      for (let offset = 0; offset < part.byteLength; offset += options.chunkBytes) {
        if (call.cancelled) return;
        const bytes = Buffer.from(part.buffer, part.byteOffset + offset, Math.min(options.chunkBytes, part.byteLength - offset));
        hasher.update(bytes);
        const more = call.write({ found: true, dataSize: 0, metadataSize: 0, digest: empty, bytes, checksum: empty });
        if (!more) await new Promise((resolve) => call.once('drain', resolve));
      }
    }
    const checksum = Buffer.alloc(8);
    checksum.writeBigUInt64LE(hasher.digest());
    call.write({ found: true, dataSize: 0, metadataSize: 0, digest: empty, bytes: empty, checksum });
    call.end();
  } finally {
    object.done();
  }
}

/** The host part of host:port (IPv6 in brackets stays bracketed). */
function hostOf(address: string): string {
  return address.replace(/:\d+$/, '');
}
