/**
 * The region a store serves from: a fresh one, or (for a named region, --region PATH) the same
 * region again after a stop or a crash, with the sealed objects its index recovers
 * (docs/recovery.md). Also the start-up sweep of region files that dead stores left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { native, type NativeAllocator, type NativeRegion } from '../native/index.js';
import { loadDigest } from '../protocol/digest.js';
import type { Logger } from '../util/log.js';
import { formatSize } from '../util/size.js';
import { indexSlotsFor, RegionIndex, type FoundRecord } from './region-index.js';
import { recoverIndex } from './recovery.js';

export interface OpenRegionOptions {
  path: string;
  /** A named region (--region): reused across restarts, with a crash-recovery index. */
  named: boolean;
  /** Bytes of object memory the store needs. */
  capacity: number;
  nodeName: string;
  hugepages: boolean;
  log: Logger;
}

export interface OpenedRegion {
  region: NativeRegion;
  allocator: NativeAllocator;
  /** Null for an anonymous region (unlinked at start: nothing could find it again). */
  index: RegionIndex | null;
  /** Sealed objects found intact in a reused region. */
  recovered: FoundRecord[];
}

export async function openStoreRegion(options: OpenRegionOptions): Promise<OpenedRegion> {
  const { log } = options;
  const previous = options.named ? attachAsOwner(options.path, log) : null;
  if (previous && previous.indexSlots > 0) {
    const region = previous;
    try {
      if (region.capacity < options.capacity) {
        throw new Error(
          `region ${options.path} holds ${formatSize(region.capacity)} of object memory, less than the ${formatSize(options.capacity)} this -m needs: ` +
            'start with the -m it was made with to recover its objects, or remove the file to start empty',
        );
      }
      const allocator = native.createAllocator(region.dataOffset, region.capacity);
      const index = new RegionIndex(region, () => warnIndexFull(log, region));
      await loadDigest();
      const report = recoverIndex(region, allocator, index);
      const dropped = Object.entries(report.rejected).filter(([, count]) => count > 0);
      log.info('recovered the sealed objects of the region', {
        region: options.path,
        objects: report.recovered.length,
        bytes: report.bytes,
        ms: Math.round(report.ms),
        ...(dropped.length > 0 ? { dropped: Object.fromEntries(dropped) } : {}),
      });
      return { region, allocator, index, recovered: report.recovered };
    } catch (error) {
      region.close();
      throw error;
    }
  }
  previous?.close(); // a region without an index (layout 1): nothing to recover, start it afresh
  const region = native.createRegion({
    path: options.path,
    capacity: options.capacity,
    nodeName: options.nodeName,
    hugepages: options.hugepages,
    // A named region is reused across restarts (its lock refuses it while a store still runs).
    overwrite: options.named && reusableRegionFile(options.path),
    indexSlots: options.named ? indexSlotsFor(options.capacity) : 0,
  });
  const allocator = native.createAllocator(region.dataOffset, region.capacity);
  let index: RegionIndex | null = null;
  if (options.named) {
    index = new RegionIndex(region, () => warnIndexFull(log, region));
    index.clear();
  }
  return { region, allocator, index, recovered: [] };
}

function warnIndexFull(log: Logger, region: NativeRegion): void {
  log.warn('the recovery index of the region is full: further objects will not survive a crash of this store', {
    region: region.path,
    slots: region.indexSlots,
  });
}

/** The first bytes of every plasmapool region (native/src/region_header.h). */
const REGION_MAGIC = Buffer.from('PLSMPOOL', 'latin1');

/**
 * The region at `file` opened by its new owner, or null when there is none to take over (no
 * file, or not a region, or a corrupt header: then it is made afresh). A live owner's lock
 * (EBUSY) and other failures propagate with their messages.
 */
function attachAsOwner(file: string, log: Logger): NativeRegion | null {
  if (!fs.existsSync(file)) return null;
  try {
    return native.attachRegion(file, { owner: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BAD_MAGIC') return null;
    if (code === 'ERR_BAD_HEADER' || code === 'ERR_UNSUPPORTED_VERSION') {
      log.warn('the region file cannot be read back; starting it empty', { region: file, reason: (error as Error).message });
      return null;
    }
    throw error;
  }
}

function readHead(file: string): Buffer {
  const head = Buffer.alloc(4096);
  const fd = fs.openSync(file, 'r');
  try {
    return head.subarray(0, fs.readSync(fd, head, 0, head.length, 0));
  } finally {
    fs.closeSync(fd);
  }
}

/** Region files younger than this are never swept: their store may not have locked them yet. */
const SWEEP_MIN_AGE_MS = 10_000;

/**
 * Remove region files left by stores that died in the instant between creating and unlinking
 * them. Liveness is the owner's lock on the file, not a pid: pids say nothing across PID
 * namespaces (containers sharing /dev/shm). Live stores' files are never touched.
 */
export function sweepStaleRegions(directory: string, log: Logger): void {
  let names: string[];
  try {
    names = fs.readdirSync(directory);
  } catch {
    return;
  }
  for (const name of names) {
    if (!/^plasmapool-.+-\d+-[0-9a-f]{8}\.region$/.test(name)) continue;
    const file = path.join(directory, name);
    try {
      if (Date.now() - fs.statSync(file).mtimeMs < SWEEP_MIN_AGE_MS || native.regionInUse(file)) continue;
      fs.rmSync(file, { force: true });
      log.info('removed the region file of a store that is gone', { file: name });
    } catch {
      // gone meanwhile, or not ours to remove (permissions): leave it
    }
  }
}

/**
 * May a store (re)initialise the file at `regionPath`? Yes for a missing or empty file, a
 * plasmapool region (a restart), a file whose header page is all zeros (made with truncate or
 * fallocate for us), and a device. Anything else holds someone's data: refuse, never overwrite.
 */
function reusableRegionFile(regionPath: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(regionPath);
  } catch {
    return false; // created afresh
  }
  if (stat.isCharacterDevice() || stat.size === 0) return true;
  if (!stat.isFile()) return false; // the native layer names the problem
  const page = readHead(regionPath);
  if (page.subarray(0, REGION_MAGIC.length).equals(REGION_MAGIC) || page.every((byte) => byte === 0)) return true;
  throw new Error(
    `${regionPath} holds data that is not a plasmapool region: refusing to overwrite it. Remove it, or pass another --region`,
  );
}

