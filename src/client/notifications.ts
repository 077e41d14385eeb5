/**
 * Notifications of seals and deletions, read from the socket the client handed to the store
 * (docs/protocol.md §5): an async iterator with an unbounded local queue.
 */
import { StoreUnreachableError } from '../errors.js';
import { native, type NativeChannel } from '../native/index.js';
import { decodeNotification } from '../protocol/client-codec.js';
import type { ObjectId } from '../protocol/object-id.js';

/** One object sealed (`deleted: false`) or deleted/evicted (`deleted: true`). */
export interface Notification {
  /** The object. */
  id: ObjectId;
  /** −1 for deletions, as the C++ client reports them. */
  dataSize: number;
  /** −1 for deletions. */
  metadataSize: number;
  /** True when the object left the store. */
  deleted: boolean;
}

/**
 * The notifications of one subscription, from `PlasmaClient.subscribe()`: `for await` over it, or
 * call next(); close() (or `using`, or breaking out of the loop) ends it.
 */
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
        if (reason) this.failure = new StoreUnreachableError(`notification socket closed: ${reason}`);
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

  /** The next notification, waiting for one if none is queued; done once closed. */
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

  /** Close the stream (called when a `for await` loop is left early). */
  return(): Promise<IteratorResult<Notification>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The stream is its own iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Same as close(), for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }
}
