/**
 * The crash-recovery index of a named region (docs/recovery.md): one fixed 64-byte record per
 * sealed object, in the index area between the region's header page and its first object
 * (region layout version 2). A store restarted on the region after any crash reads it back.
 *
 * Record (little-endian):
 *   0  id            20 bytes
 *  20  state         u32: SEALED, or 0 for a free slot
 *  24  offset        u64: first byte of the object in the region
 *  32  dataSize      u64
 *  40  metadataSize  u64
 *  48  digest        8 bytes: the Plasma digest the object was sealed with
 *  56  createTime    u32: Unix seconds
 *  60  crc           u32: CRC-32 of bytes [0, 60)
 *
 * Crash consistency: a record is composed off to the side and copied in with its CRC, so a store
 * killed half-way leaves a record whose CRC fails; it is written before the seal is acknowledged
 * and erased (one aligned 4-byte store of its state) before the object's memory is freed, so a
 * record never points at memory that was reused. Every client maps the region read-write, so
 * recovery trusts nothing in a record it has not checked: CRC, bounds, overlap, and the digest of
 * the bytes themselves.
 *
 * A running store writes the records natively (native/src/region_index_writer.cc, driven by the
 * data plane on every seal and removal, whichever path made it). This module prepares the index
 * at start: clears a fresh one, reads one back after a crash (dropping what fails its checks) and
 * hands the free slots to the data plane.
 */
import zlib from 'node:zlib';
import type { NativeRegion } from '../native/index.js';
import { ObjectId } from '../protocol/object-id.js';

export const INDEX_RECORD_BYTES = 64;
/** 'SEAL' in little-endian ASCII. */
const SEALED = 0x4c414553;

export interface IndexRecord {
  id: ObjectId;
  offset: number;
  dataSize: number;
  metadataSize: number;
  digest: Uint8Array;
  createTime: number;
}

/** A record as found in the region, with the slot it occupies. */
export interface FoundRecord extends IndexRecord {
  slot: number;
  /** The digest as the little-endian u64 it is, for comparing without allocating. */
  digestValue: bigint;
}

export interface IndexScan {
  records: FoundRecord[];
  /** Slots that held something that is not a valid record (torn by a crash, or scribbled on). */
  damaged: number;
}

/** Index slots for a region of `capacity` bytes: one per 4 KiB of capacity, at least 1,024. */
export function indexSlotsFor(capacity: number): number {
  return Math.min(0xffffffff, Math.max(1024, Math.ceil(capacity / 4096)));
}

export class RegionIndex {
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  /** Free slots, used from the end (a stack), until the data plane takes them over. */
  private readonly freeSlots: number[] = [];

  constructor(
    region: NativeRegion,
    private readonly onFull: () => void = () => {},
  ) {
    const length = region.indexSlots * INDEX_RECORD_BYTES;
    const window = region.mapping.window(region.indexOffset, length);
    this.bytes = new Uint8Array(window.buffer, window.byteOffset, length);
    this.view = new DataView(window.buffer, window.byteOffset, length);
    this.slots = region.indexSlots;
  }

  readonly slots: number;

  /** Forget every record (a fresh region). */
  clear(): void {
    this.bytes.fill(0);
    this.freeSlots.length = 0;
    for (let slot = this.slots - 1; slot >= 0; slot--) this.freeSlots.push(slot);
  }

  /**
   * Read back every record that passes its CRC; damaged slots are cleared. Afterwards the free
   * list holds every slot not returned (the caller releases the records it rejects).
   */
  scan(): IndexScan {
    const records: FoundRecord[] = [];
    let damaged = 0;
    this.freeSlots.length = 0;
    for (let slot = this.slots - 1; slot >= 0; slot--) {
      const at = slot * INDEX_RECORD_BYTES;
      const state = this.view.getUint32(at + 20, true);
      if (state === 0 && this.isBlank(at)) {
        this.freeSlots.push(slot);
        continue;
      }
      const record = this.bytes.subarray(at, at + INDEX_RECORD_BYTES);
      if (state !== SEALED || zlib.crc32(record.subarray(0, 60)) !== this.view.getUint32(at + 60, true)) {
        damaged++;
        this.release(slot);
        continue;
      }
      records.push({
        slot,
        id: ObjectId.fromBytes(record.subarray(0, 20)),
        offset: Number(this.view.getBigUint64(at + 24, true)),
        dataSize: Number(this.view.getBigUint64(at + 32, true)),
        metadataSize: Number(this.view.getBigUint64(at + 40, true)),
        digest: record.slice(48, 56),
        digestValue: this.view.getBigUint64(at + 48, true),
        createTime: this.view.getUint32(at + 56, true),
      });
    }
    return { records: records.reverse(), damaged };
  }

  /** Recovery rejected the record in this slot: it dies (its state first) and the slot is free. */
  release(slot: number): void {
    if (slot < 0) return;
    const at = slot * INDEX_RECORD_BYTES;
    this.view.setUint32(at + 20, 0, true); // one aligned store: the record is dead from here on
    this.bytes.fill(0, at, at + INDEX_RECORD_BYTES);
    this.freeSlots.push(slot);
  }

  /** The free slots now, for the data plane, which writes every record from then on. */
  freeSlotList(): readonly number[] {
    return this.freeSlots;
  }

  /** The data plane found every slot taken: further objects will not survive a crash (logged once). */
  reportFull(): void {
    this.onFull();
  }

  private isBlank(at: number): boolean {
    for (let i = at; i < at + INDEX_RECORD_BYTES; i += 4) if (this.view.getUint32(i, true) !== 0) return false;
    return true;
  }
}
