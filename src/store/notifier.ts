/**
 * Subscribers and their notification sockets (docs/protocol.md §5). Each subscriber's socket is a
 * native channel in 'length64' framing whose write queue grows without bound, so a subscriber that
 * reads slowly never blocks the store (§5.4); one that hangs up is dropped.
 */
import { native, type NativeChannel } from '../native/index.js';
import { encodeNotification } from '../protocol/store-codec.js';
import type { ObjectInfo } from '../protocol/messages.js';
import type { ObjectId } from '../protocol/object-id.js';
import type { Logger } from '../util/log.js';

export class Notifier {
  private readonly subscribers = new Set<NativeChannel>();

  constructor(private readonly log: Logger) {}

  get count(): number {
    return this.subscribers.size;
  }

  add(channel: NativeChannel): void {
    this.subscribers.add(channel);
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
  publish(infos: ObjectInfo[], only?: NativeChannel): void {
    if (this.subscribers.size === 0 || infos.length === 0) return;
    const body = encodeNotification(infos);
    if (only) {
      only.sendFrame(0, body);
      return;
    }
    for (const channel of this.subscribers) channel.sendFrame(0, body);
  }

  publishDeletion(id: ObjectId): void {
    this.publish([deletionInfo(id)]);
  }

  closeAll(): void {
    for (const channel of this.subscribers) channel.close();
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
