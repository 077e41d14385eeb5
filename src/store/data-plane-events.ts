/**
 * The events the native data plane hands to TypeScript (docs/object-table.md §4), decoded from
 * the 64-byte entries native/src/dataplane.h describes. Read in order; one batch per JS call.
 */

export const DataPlaneEvent = {
  /** A native Get took the first pin of a quota-owned object. */
  Pinned: 1,
  /** A native Release (or a disconnect) dropped the last pin of a quota-owned or delete-pending object. */
  Unpinned: 2,
  /** A native Seal or CreateAndSeal, while someone may wait for one (subscribers, waiting gets). */
  Sealed: 4,
  /** A sealed object found no free slot in the region's index (reported once until one frees). */
  IndexFull: 5,
} as const;

export type DataPlaneEventKind = (typeof DataPlaneEvent)[keyof typeof DataPlaneEvent];

/** One event; valid only during the callback (one view is reused for the whole batch). */
export interface DataPlaneEventView {
  kind: DataPlaneEventKind;
  /** The object id's 20 bytes (a view into the batch). */
  id: Uint8Array;
  /** The id as hex: the store's table key. */
  key: string;
  /** Sealed: the client number in the data plane and the Unix time in seconds. */
  client: number;
  time: number;
  offset: number;
  dataSize: number;
  metadataSize: number;
  /** Sealed: the 8-byte digest (a view into the batch). */
  digest: Uint8Array;
}

const EVENT_BYTES = 64;
const WITH_RECORD = new Set<number>([DataPlaneEvent.Sealed]);

/** A u64 below 2^53 as an exact number, without a BigInt per read. */
function readSize(batch: Buffer, at: number): number {
  return batch.readUInt32LE(at) + batch.readUInt32LE(at + 4) * 0x1_0000_0000;
}

export function forEachDataPlaneEvent(batch: Buffer, visit: (event: DataPlaneEventView) => void): void {
  const empty = batch.subarray(0, 0);
  const event: DataPlaneEventView = {
    kind: DataPlaneEvent.Pinned,
    id: empty,
    key: '',
    client: 0,
    time: 0,
    offset: 0,
    dataSize: 0,
    metadataSize: 0,
    digest: empty,
  };
  for (let at = 0; at + EVENT_BYTES <= batch.length; at += EVENT_BYTES) {
    event.kind = batch[at] as DataPlaneEventKind;
    event.key = batch.toString('hex', at + 1, at + 21);
    // Pins and unpins (most events) need only the key.
    if (WITH_RECORD.has(event.kind)) {
      event.id = batch.subarray(at + 1, at + 21);
      event.client = batch.readUInt32LE(at + 24);
      event.time = batch.readUInt32LE(at + 28);
      // Offsets and sizes are below 2^53 (the allocator's and the create path's limits).
      event.offset = readSize(batch, at + 32);
      event.dataSize = readSize(batch, at + 40);
      event.metadataSize = readSize(batch, at + 48);
      event.digest = batch.subarray(at + 56, at + 64);
    }
    visit(event);
  }
}
