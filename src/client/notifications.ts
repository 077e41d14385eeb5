/**
 * Notifications of seals and deletions, read from the socket the client handed to the store
 * (plasma-protocol §5): an async iterator with an unbounded local queue.
 */
import { native, type NativeChannel } from '../native/index.js';
import { decodeNotification } from '../protocol/client-codec.js';
import type { ObjectId } from '../protocol/object-id.js';

export interface Notification {
  id: ObjectId;
  /** −1 for deletions, as the C++ client reports them. */
  dataSize: number;
  metadataSize: number;
  deleted: boolean;
}

export class NotificationStream implements AsyncIterableIterator<Notification>, Disposable {
  private readonly queue: Notification[] = [];
  private readonly waiters: ((result: IteratorResult<Notification>) => void)[] = [];
  private readonly channel: NativeChannel;
  private ended = false;
  private failure: Error | null = null;

  /** @internal built by PlasmaClient.subscribe(). */
  constructor(fd: number) {
    this.channel = native.channelFromFd(fd, 'length64');
    this.channel.start({
      onFrame: (_type, body) => {
        for (const info of decodeNotification(body)) {
          this.push({
            id: info.objectId,
            dataSize: info.isDeletion ? -1 : info.dataSize,
            metadataSize: info.isDeletion ? -1 : info.metadataSize,
            deleted: info.isDeletion,
          });
        }
      },
      onFd: (stray) => native.closeFd(stray),
      onClose: (reason) => {
        if (reason) this.failure = new Error(`notification socket closed: ${reason}`);
        this.finish();
      },
    });
    this.channel.unref();
  }

  private push(notification: Notification): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value: notification, done: false });
    else this.queue.push(notification);
  }

  private finish(): void {
    this.ended = true;
    for (const waiter of this.waiters.splice(0)) waiter({ value: undefined, done: true });
    this.channel.unref();
  }

  next(): Promise<IteratorResult<Notification>> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.ended) {
      if (this.failure) {
        const failure = this.failure;
        this.failure = null;
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    // Waiting for a notification keeps the process alive.
    this.channel.ref();
    return new Promise((resolve) =>
      this.waiters.push((result) => {
        if (this.waiters.length === 0) this.channel.unref();
        resolve(result);
      }),
    );
  }

  /** Stop listening. */
  close(): void {
    if (this.ended) return;
    this.channel.close();
    this.finish();
  }

  return(): Promise<IteratorResult<Notification>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
