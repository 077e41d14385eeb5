/**
 * Recovery of a named region after a crash (docs/recovery.md): read the index, keep exactly the
 * records whose object is intact, and give back everything else. A record is kept only if its
 * CRC holds (RegionIndex.scan), its id is unique, its bytes lie inside the object area on a block
 * boundary without overlapping another kept object (the allocator refuses overlaps), and the
 * bytes hash to the digest the object was sealed with.
 */
import type { NativeAllocator, NativeRegion } from '../native/index.js';
import { plasmaDigestValue } from '../protocol/digest.js';
import type { FoundRecord, RegionIndex } from './region-index.js';

export interface RecoveryReport {
  recovered: FoundRecord[];
  /** Records dropped, by reason. */
  rejected: { damaged: number; duplicate: number; outOfBounds: number; overlapping: number; digestMismatch: number };
  bytes: number;
  ms: number;
}

export function recoverIndex(
  region: NativeRegion,
  allocator: NativeAllocator,
  index: RegionIndex,
): RecoveryReport {
  const started = performance.now();
  const scan = index.scan();
  const rejected = { damaged: scan.damaged, duplicate: 0, outOfBounds: 0, overlapping: 0, digestMismatch: 0 };
  const recovered: FoundRecord[] = [];
  const seen = new Set<string>();
  const end = region.dataOffset + region.capacity;
  const window = region.mapping.window(region.dataOffset, region.capacity);
  const objects = new Uint8Array(window.buffer, window.byteOffset, region.capacity);
  let bytes = 0;
  for (const record of scan.records) {
    const size = record.dataSize + record.metadataSize;
    const at = record.offset - region.dataOffset;
    let reason: keyof typeof rejected | null = null;
    if (seen.has(record.id.hex)) reason = 'duplicate';
    else if (!Number.isSafeInteger(size) || record.offset < region.dataOffset || record.offset % 64 !== 0 || record.offset + size > end) reason = 'outOfBounds';
    else if (!allocator.reserve(record.offset, size)) reason = 'overlapping';
    else if (plasmaDigestValue(objects.subarray(at, at + record.dataSize), objects.subarray(at + record.dataSize, at + size)) !== record.digestValue) {
      allocator.free(record.offset);
      reason = 'digestMismatch';
    }
    if (reason !== null) {
      rejected[reason]++;
      index.release(record.slot);
      continue;
    }
    seen.add(record.id.hex);
    recovered.push(record);
    bytes += size;
  }
  return { recovered, rejected, bytes, ms: performance.now() - started };
}
