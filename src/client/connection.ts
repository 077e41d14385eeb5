/**
 * The client's side of one Plasma connection: strictly one request in flight (like the C++
 * client, §1.1), replies matched to requests in order, and the descriptors that follow a reply
 * (§4.2) collected before the request completes. Release has no reply and goes out at once.
 */
import { StoreUnreachableError } from '../errors.js';
import { native, type NativeChannel } from '../native/index.js';
import { ProtocolError, REPLY_TYPE_OF, type Reply, type Request } from '../protocol/messages.js';
import { decodeReply, encodeRequest } from '../protocol/client-codec.js';

/** How many descriptors follow a reply: decided by the caller, who knows its segment table. */
export type FdCounter = (reply: Reply) => number;

interface InFlight {
  request: Request;
  countFds: FdCounter;
  reply: Reply | null;
  fds: number[];
  fdsNeeded: number;
  resolve(value: { reply: Reply; fds: number[] }): void;
  reject(error: Error): void;
}

interface Queued {
  start(): void;
}

/**
 * Requests of this process waiting for their replies, over all connections. A request waits for
 * its reply awake (spinning) only when it is the only one: with others in flight the event loop
 * has their replies to handle, and spinning would keep it from them.
 */
let requestsInFlight = 0;

/** The connection to the store is gone (or never came up); the message says why. */
export class PlasmaConnectionError extends StoreUnreachableError {
  override readonly name = 'PlasmaConnectionError';
}

export class Connection {
  private inFlight: InFlight | null = null;
  private readonly waiting: Queued[] = [];
  private closedReason: string | null = null;
  private readonly closeListeners: ((reason: string) => void)[] = [];

  private constructor(
    private readonly channel: NativeChannel,
    private readonly replySpinMicros: number,
  ) {
    channel.start({
      onFrame: (type, body) => this.onFrame(type, body),
      onFd: (fd) => this.onFd(fd),
      onClose: (reason) => this.onClose(reason ?? 'the store closed the connection'),
    });
    // An idle client must not keep the process alive; a request in flight does (see send()).
    channel.unref();
  }

  /** Connect, retrying while the socket is missing or refusing (the store may still be starting). */
  static async open(socketPath: string, retries: number, retryDelayMs: number, replySpinMicros: number): Promise<Connection> {
    for (let attempt = 0; ; attempt++) {
      try {
        return new Connection(native.connect(socketPath, 'plasma'), replySpinMicros);
      } catch (error) {
        if (attempt >= retries) {
          throw new PlasmaConnectionError(
            `${(error as Error).message} (${attempt + 1} attempts); to start a store there: plasmapool store -s ${socketPath} -m 1GiB`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, retryDelayMs));
      }
    }
  }

  get closed(): boolean {
    return this.closedReason !== null;
  }

  /** Call `listener` once when the connection closes, whoever closed it (the store drops our pins then). */
  onClosed(listener: (reason: string) => void): void {
    this.closeListeners.push(listener);
  }

  /** Send a request and wait for its reply (and the descriptors that follow it). */
  request(request: Request, countFds: FdCounter = () => 0): Promise<{ reply: Reply; fds: number[] }> {
    return new Promise((resolve, reject) => {
      const start = () => {
        if (this.closedReason) return reject(new PlasmaConnectionError(this.closedReason));
        this.inFlight = { request, countFds, reply: null, fds: [], fdsNeeded: 0, resolve, reject };
        requestsInFlight++;
        this.channel.ref();
        const { type, body } = encodeRequest(request);
        this.channel.sendFrame(type, body);
        // The store answers in microseconds; a CPU left idle meanwhile is halted, and waking it
        // costs more (docs/performance.md part 4). So the only request in flight waits awake.
        if (this.replySpinMicros > 0 && requestsInFlight === 1) this.channel.awaitReadable(this.replySpinMicros);
      };
      if (this.inFlight || this.waiting.length > 0) this.waiting.push({ start });
      else start();
    });
  }

  /** A request without a reply (Release): goes out now, behind whatever is already queued. */
  send(request: Request): void {
    if (this.closedReason) return;
    const { type, body } = encodeRequest(request);
    this.channel.sendFrame(type, body);
  }

  /** A request followed by one descriptor and no reply (Subscribe, §5.1). */
  sendWithFd(request: Request, fd: number): void {
    if (this.closedReason) throw new PlasmaConnectionError(this.closedReason);
    const { type, body } = encodeRequest(request);
    this.channel.sendFrame(type, body);
    this.channel.sendFd(fd);
  }

  close(): void {
    if (this.closedReason) return;
    this.channel.close();
    this.onClose('the client closed the connection');
  }

  private onFrame(type: number, body: Buffer): void {
    const current = this.inFlight;
    if (!current || current.reply) {
      return this.fail(`unexpected message of type ${type} from the store`);
    }
    let reply: Reply;
    try {
      reply = decodeReply(type, body);
    } catch (error) {
      return this.fail(`bad reply from the store: ${(error as Error).message}`);
    }
    if (!replyMatches(current.request, type)) {
      return this.fail(`the store answered a ${current.request.kind} request with message type ${type}`);
    }
    current.reply = reply;
    current.fdsNeeded = current.countFds(reply);
    this.completeIfReady();
  }

  private onFd(fd: number): void {
    const current = this.inFlight;
    if (!current?.reply || current.fds.length >= current.fdsNeeded) {
      native.closeFd(fd);
      return this.fail('the store sent a descriptor nobody expected');
    }
    current.fds.push(fd);
    this.completeIfReady();
  }

  private completeIfReady(): void {
    const current = this.inFlight!;
    if (current.fds.length < current.fdsNeeded) return;
    this.inFlight = null;
    requestsInFlight--;
    this.channel.unref();
    current.resolve({ reply: current.reply!, fds: current.fds });
    this.waiting.shift()?.start();
  }

  private fail(reason: string): void {
    this.channel.close();
    this.onClose(reason);
  }

  private onClose(reason: string): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    const error = new PlasmaConnectionError(reason);
    if (this.inFlight) {
      for (const fd of this.inFlight.fds) native.closeFd(fd);
      this.inFlight.reject(error);
      this.inFlight = null;
      requestsInFlight--;
    }
    for (const queued of this.waiting.splice(0)) queued.start();
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }
}

function replyMatches(request: Request, type: number): boolean {
  const expected = REPLY_TYPE_OF[request.kind];
  if (expected === undefined) throw new ProtocolError(`${request.kind} has no reply`);
  return expected === type;
}
