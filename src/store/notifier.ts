/**
 * Subscribers and their notification sockets (docs/protocol.md §5). Each subscriber's socket is a
 * native channel in 'length64' framing. A subscriber that reads slowly never blocks the store
 * (§5.4), but its unread backlog is bounded: past its allowance (the initial snapshot plus
 * SUBSCRIBER_BACKLOG_LIMIT_BYTES) it is disconnected with a warning. One that hangs up is dropped.
 */
import { native, type NativeChannel } from '../native/index.js';
import { encodeNotification } from '../protocol/store-codec.js';
import type { ObjectInfo } from '../protocol/messages.js';
import type { ObjectId } from '../protocol/object-id.js';
import type { Logger } from '../util/log.js';
import { SUBSCRIBER_BACKLOG_LIMIT_BYTES } from './limits.js';

export class Notifier {
  /** Each subscriber's channel and the unread bytes it may accumulate before it is dropped. */
  private readonly subscribers = new Map<NativeChannel, number>();

  constructor(private readonly log: Logger) {}

  get count(): number {
    return this.subscribers.size;
  }

  /** Start notifying channel; it first receives `snapshot`, one frame per object (§5.1). */
  add(channel: NativeChannel, snapshot: ObjectInfo[] = []): void {
    let snapshotBytes = 0;
    for (const info of snapshot) {
      const body = encodeNotification([info]);
      snapshotBytes += body.length + 8;
      channel.sendFrame(0, body);
    }
    this.subscribers.set(channel, snapshotBytes + SUBSCRIBER_BACKLOG_LIMIT_BYTES);
    channel.start({
      onFrame: () => {
        // The client never writes on its notification socket; ignore anything it sends.
      },
      onFd: (fd) => native.closeFd(fd),
      onClose: (reason) => {
        this.subscribers.delete(channel);
        if (reason) this.log.info('subscriber dropped', { reason });
      },
    });
  }

  remove(channel: NativeChannel): void {
    if (this.subscribers.delete(channel)) channel.close();
  }

  /** One frame holding all infos (a batch seal), or nothing when nobody listens. */
  publish(infos: ObjectInfo[]): void {
    if (this.subscribers.size === 0 || infos.length === 0) return;
    const body = encodeNotification(infos);
    for (const [channel, allowance] of this.subscribers) {
      channel.sendFrame(0, body);
      if (channel.pendingWriteBytes > allowance) this.dropLagging(channel);
    }
  }

  private dropLagging(channel: NativeChannel): void {
    this.log.warn('subscriber dropped: it left too many notifications unread; it may subscribe again', {
      unreadBytes: channel.pendingWriteBytes,
    });
    this.subscribers.delete(channel);
    channel.close();
  }

  publishDeletion(id: ObjectId): void {
    this.publish([deletionInfo(id)]);
  }

  closeAll(): void {
    for (const channel of this.subscribers.keys()) channel.close();
    this.subscribers.clear();
  }
}

export function deletionInfo(id: ObjectId): ObjectInfo {
  return {
    objectId: id,
    dataSize: 0,
    metadataSize: 0,
    refCount: 0,
    createTime: 0,
    constructDuration: 0,
    digest: new Uint8Array(0),
    isDeletion: true,
  };
}
