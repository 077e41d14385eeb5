/**
 * One client connection: its channel, what it holds, which segments it has been sent (§4.2),
 * its pending gets and its subscription.
 */
import type { NativeChannel, NativeDataPlane } from '../native/index.js';
import type { Reply } from '../protocol/messages.js';
import { encodeReply } from '../protocol/store-codec.js';
import type { Holder, StoredObject } from './object-table.js';
import type { Segment } from './segments.js';
import type { PendingGet } from './pending-gets.js';

export class ClientSession implements Holder {
  readonly label: string;
  /** Name given by SetOptions (labels its quota LRU). */
  name = '';
  /** Keys of objects this client holds a reference to. */
  readonly held = new Set<string>();
  /** Keys of unsealed objects this client created (aborted if it disconnects, §8). */
  readonly creating = new Set<string>();
  /** Segment ids whose descriptor this connection has received; only grows (§4.2). */
  private readonly sentSegments = new Set<number>();
  readonly pendingGets = new Set<PendingGet>();
  /**
   * Objects this client created and wrote whose seal the cluster refused (another node owns the
   * id). They have left the id space, but this client still maps their memory, so it stays
   * allocated until the client releases or aborts the id, or disconnects.
   */
  readonly refused = new Map<string, StoredObject>();
  /** What each descriptor still expected on the stream is for: a SubscribeRequest is followed by one (§5.1). */
  readonly expectedFds: ('subscribe' | 'discard')[] = [];
  subscription: NativeChannel | null = null;
  closed = false;
  /** This connection's client number in the native data plane (issue 10); -1 until attached. */
  dataPlaneClient = -1;
  private dataPlane: NativeDataPlane | null = null;
  private dataPlaneSegment = -1;

  constructor(
    readonly id: number,
    readonly channel: NativeChannel,
  ) {
    this.label = `client-${id}`;
  }

  /** Frames of this connection go to the data plane first; it serves objects of `segmentId`. */
  attachDataPlane(dataPlane: NativeDataPlane, client: number, segmentId: number): void {
    this.dataPlane = dataPlane;
    this.dataPlaneClient = client;
    this.dataPlaneSegment = segmentId;
  }

  /** Send one reply frame, then the descriptors of the given segments this connection lacks (§4.1, §4.2). */
  reply(reply: Reply, segments: readonly Segment[] = []): void {
    if (this.closed) return;
    const { type, body } = encodeReply(reply);
    this.channel.sendFrame(type, body);
    for (const segment of segments) {
      if (this.sentSegments.has(segment.id)) continue;
      this.channel.sendFd(segment.fd);
      this.sentSegments.add(segment.id);
      // Native replies omit the descriptor, so they wait until this connection has it (§4.2).
      if (segment.id === this.dataPlaneSegment) this.dataPlane?.setFdSent(this.dataPlaneClient);
    }
  }
}
