/**
 * The events the native data plane hands to TypeScript (docs/object-table.md §4), decoded from
 * the 64-byte entries native/src/dataplane.h describes. Read in order; one batch per JS call.
 */

export const DataPlaneEvent = {
  /** A native Get took the first pin of a sealed object. */
  Pinned: 1,
  /** A native Release dropped the last native pin. */
  Unpinned: 2,
  /** A native Create allocated an object and pinned it for its creator. */
  Created: 3,
  /** A native Seal sealed an object for its creator. */
  Sealed: 4,
} as const;

export type DataPlaneEventKind = (typeof DataPlaneEvent)[keyof typeof DataPlaneEvent];

/** One event; valid only during the callback (the view is reused). */
export interface DataPlaneEventView {
  kind: DataPlaneEventKind;
  /** The object id's 20 bytes (a view into the batch). */
  id: Uint8Array;
  /** The id as hex: the store's table key. */
  key: string;
  /** Created, Sealed: the client number in the data plane and the Unix time in seconds. */
  client: number;
  time: number;
  offset: number;
  dataSize: number;
  metadataSize: number;
  /** Sealed: the 8-byte digest (a view into the batch). */
  digest: Uint8Array;
}

const EVENT_BYTES = 64;

export function forEachDataPlaneEvent(batch: Buffer, visit: (event: DataPlaneEventView) => void): void {
  for (let at = 0; at + EVENT_BYTES <= batch.length; at += EVENT_BYTES) {
    visit({
      kind: batch[at] as DataPlaneEventKind,
      id: batch.subarray(at + 1, at + 21),
      key: batch.toString('hex', at + 1, at + 21),
      client: batch.readUInt32LE(at + 24),
      time: batch.readUInt32LE(at + 28),
      // Offsets and sizes are below 2^53 (the allocator's and the create path's limits).
      offset: Number(batch.readBigUInt64LE(at + 32)),
      dataSize: Number(batch.readBigUInt64LE(at + 40)),
      metadataSize: Number(batch.readBigUInt64LE(at + 48)),
      digest: batch.subarray(at + 56, at + 64),
    });
  }
}
