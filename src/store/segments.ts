/**
 * Segments: memory-mappable files whose descriptors are passed to clients (§4). Ids come from a
 * monotonic counter and are never reused, so a client never confuses two segments (§13).
 */
export interface Segment {
  readonly id: number;
  /** Descriptor owned elsewhere (the region); valid while the segment is registered. */
  readonly fd: number;
  /** Bytes a client may map from offset 0. */
  readonly mapLength: number;
  /** Where it lives: the local region, or a peer's. */
  readonly owner: string;
}

/** The mmap_size reported to clients: they map mmap_size − 8 bytes (§4.4, §4.5). */
export function reportedMmapSize(segment: Segment): number {
  return segment.mapLength + 8;
}

export class SegmentRegistry {
  private nextId = 1;
  private readonly byId = new Map<number, Segment>();

  register(fd: number, mapLength: number, owner: string): Segment {
    const segment: Segment = { id: this.nextId++, fd, mapLength, owner };
    this.byId.set(segment.id, segment);
    return segment;
  }

  get(id: number): Segment | undefined {
    return this.byId.get(id);
  }

  unregister(id: number): void {
    this.byId.delete(id);
  }
}
