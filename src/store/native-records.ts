/**
 * Reading NativeDataPlane.records(): every record of the native object table, 96 bytes each as
 * native/src/object_index.h lays out ObjectRecord (the pins field there holds all pins). For the
 * rare walks over every object (list, subscribe snapshots, admin ls, a peer's directory).
 */
import type { NativeRecordInfo } from '../native/index.js';

const RECORD_BYTES = 96;
const NO_SLOT = 0xffffffff;

export interface NativeRecordView extends NativeRecordInfo {
  /** The id as hex. */
  key: string;
  /** The 20 id bytes (a copy). */
  id: Uint8Array;
}

function readSize(batch: Buffer, at: number): number {
  return batch.readUInt32LE(at) + batch.readUInt32LE(at + 4) * 0x1_0000_0000;
}

/** Records by state, from the flags alone (no view per record: for stats and metrics). */
export function countRecords(batch: Buffer, sealedFlag: number): { sealed: number; created: number } {
  let sealed = 0;
  for (let at = 0; at + RECORD_BYTES <= batch.length; at += RECORD_BYTES) {
    if (batch.readUInt32LE(at + 20) & sealedFlag) sealed++;
  }
  return { sealed, created: batch.length / RECORD_BYTES - sealed };
}

export function* nativeRecords(batch: Buffer): IterableIterator<NativeRecordView> {
  for (let at = 0; at + RECORD_BYTES <= batch.length; at += RECORD_BYTES) {
    const indexSlot = batch.readUInt32LE(at + 84);
    yield {
      key: batch.toString('hex', at, at + 20),
      id: Uint8Array.prototype.slice.call(batch, at, at + 20),
      flags: batch.readUInt32LE(at + 20),
      pins: batch.readUInt32LE(at + 24),
      creator: batch.readUInt32LE(at + 28),
      offset: readSize(batch, at + 32),
      dataSize: readSize(batch, at + 40),
      metadataSize: readSize(batch, at + 48),
      createTime: batch.readUInt32LE(at + 72),
      constructDuration: batch.readInt32LE(at + 76),
      indexSlot: indexSlot === NO_SLOT ? -1 : indexSlot,
    };
  }
}
