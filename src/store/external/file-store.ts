/**
 * `file:///DIR`: a larger-than-memory external store. Each evicted object becomes one file
 * `<id hex>.obj` in DIR: a 48-byte header (magic, sizes, Plasma digest, XXH64 checksum of the
 * bytes), then data, then metadata. Files are written under a temporary name and renamed, so a
 * crash never leaves a torn object behind; the checksum is verified on every restore. The files
 * outlive the store: a store started again with the same DIR finds its spilled objects there.
 */
import { ExternalStoreError } from '../../errors.js';
import fs from 'node:fs';
import path from 'node:path';
import type { XXHashAPI } from 'xxhash-wasm';
import type { ExternalStore, SpilledEntry, SpilledObject } from './external-store.js';

const MAGIC = Buffer.from('PPSPILL1', 'latin1');
const HEADER_SIZE = 48;

export class FileStore implements ExternalStore {
  constructor(
    readonly endpoint: string,
    readonly directory: string,
    private readonly hash: XXHashAPI,
  ) {}

  private pathOf(key: string): string {
    return path.join(this.directory, `${key}.obj`);
  }

  private checksum(data: Uint8Array, metadata: Uint8Array): bigint {
    return this.hash.create64(0n).update(data).update(metadata).digest();
  }

  put(key: string, object: SpilledObject): void {
    const header = Buffer.alloc(HEADER_SIZE);
    MAGIC.copy(header, 0);
    header.writeBigUInt64LE(BigInt(object.data.byteLength), 8);
    header.writeBigUInt64LE(BigInt(object.metadata.byteLength), 16);
    header.set(object.digest.subarray(0, 8), 24);
    header.writeBigUInt64LE(this.checksum(object.data, object.metadata), 32);
    const target = this.pathOf(key);
    const temporary = `${target}.tmp`;
    const fd = fs.openSync(temporary, 'w', 0o600);
    try {
      fs.writevSync(fd, [header, object.data, object.metadata]);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temporary, target);
  }

  get(key: string): SpilledObject | undefined {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.pathOf(key));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    if (bytes.byteLength < HEADER_SIZE || !bytes.subarray(0, 8).equals(MAGIC)) {
      throw new ExternalStoreError(`spilled object ${key} in ${this.directory} is not a plasmapool spill file`);
    }
    const dataSize = Number(bytes.readBigUInt64LE(8));
    const metadataSize = Number(bytes.readBigUInt64LE(16));
    if (bytes.byteLength !== HEADER_SIZE + dataSize + metadataSize) {
      throw new ExternalStoreError(`spilled object ${key} in ${this.directory} is truncated`);
    }
    const data = bytes.subarray(HEADER_SIZE, HEADER_SIZE + dataSize);
    const metadata = bytes.subarray(HEADER_SIZE + dataSize);
    if (this.checksum(data, metadata) !== bytes.readBigUInt64LE(32)) {
      throw new ExternalStoreError(`spilled object ${key} in ${this.directory} is corrupt (checksum mismatch)`);
    }
    return { data, metadata, digest: Uint8Array.from(bytes.subarray(24, 32)) };
  }

  delete(key: string): void {
    fs.rmSync(this.pathOf(key), { force: true });
  }

  /**
   * The spilled objects in DIR, from their headers (the bytes are checked when restored). A
   * temporary file is a spill cut short by a crash: removed. A file that is not a spill file of
   * ours is left alone and skipped.
   */
  list(): SpilledEntry[] {
    const entries: SpilledEntry[] = [];
    const header = Buffer.alloc(HEADER_SIZE);
    for (const name of fs.readdirSync(this.directory)) {
      if (/^[0-9a-f]{40}\.obj\.tmp$/.test(name)) {
        fs.rmSync(path.join(this.directory, name), { force: true });
        continue;
      }
      const match = /^([0-9a-f]{40})\.obj$/.exec(name);
      if (!match) continue;
      const file = path.join(this.directory, name);
      const fd = fs.openSync(file, 'r');
      let read: number;
      let size: number;
      try {
        read = fs.readSync(fd, header, 0, HEADER_SIZE, 0);
        size = fs.fstatSync(fd).size;
      } finally {
        fs.closeSync(fd);
      }
      if (read !== HEADER_SIZE || !header.subarray(0, 8).equals(MAGIC)) continue;
      const dataSize = Number(header.readBigUInt64LE(8));
      const metadataSize = Number(header.readBigUInt64LE(16));
      if (size !== HEADER_SIZE + dataSize + metadataSize) continue;
      entries.push({ key: match[1]!, dataSize, metadataSize, digest: Uint8Array.from(header.subarray(24, 32)) });
    }
    return entries;
  }

  close(): void {
    // Nothing to release: every spill file is complete and closed, and stays for the next run.
  }
}
