/**
 * Ask a running plasmapool store what it holds (the admin query, docs/protocol.md §16). One short
 * connection per query, apart from any Plasma client connection.
 */
import { native, type NativeChannel } from '../native/index.js';
import { ADMIN_REPLY_TYPE, ADMIN_REQUEST_TYPE, decodeAdminReply, encodeAdmin, type AdminObject, type AdminStat } from '../protocol/admin.js';
import { StoreUnreachableError } from '../errors.js';

function query(socketPath: string, op: 'stat' | 'ls', timeoutMs: number): Promise<unknown> {
  let channel: NativeChannel;
  try {
    channel = native.connect(socketPath, 'plasma');
  } catch (error) {
    return Promise.reject(new StoreUnreachableError(`no store at ${socketPath}: ${(error as Error).message}`));
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      channel.close();
      reject(new StoreUnreachableError(`the store at ${socketPath} did not answer within ${timeoutMs} ms (is it a plasmapool store?)`));
    }, timeoutMs);
    let done = false;
    const finish = (fn: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      channel.close();
      fn();
    };
    channel.start({
      onFrame: (type, body) => {
        if (type !== ADMIN_REPLY_TYPE) {
          return finish(() => reject(new StoreUnreachableError(`the server at ${socketPath} answered message type ${type}: it is not a plasmapool store`)));
        }
        const reply = decodeAdminReply(body);
        if (reply.op === 'error') return finish(() => reject(new StoreUnreachableError(reply.message)));
        finish(() => resolve(reply.op === 'stat' ? reply.stat : reply.objects));
      },
      onFd: (fd) => native.closeFd(fd),
      onClose: (reason) =>
        finish(() =>
          reject(new StoreUnreachableError(`the server at ${socketPath} closed the connection${reason ? ` (${reason})` : ''}: it is not a plasmapool store, or it stopped`)),
        ),
    });
    channel.sendFrame(ADMIN_REQUEST_TYPE, encodeAdmin(op === 'stat' ? { op: 'stat' } : { op: 'ls' }));
  });
}

/** Capacity, use, objects, clients and counters of the store at `socketPath`. */
export function storeStat(socketPath: string, timeoutMs = 5000): Promise<AdminStat> {
  return query(socketPath, 'stat', timeoutMs) as Promise<AdminStat>;
}

/** Every object the store at `socketPath` knows: state, size, pins and where it lives. */
export function storeObjects(socketPath: string, timeoutMs = 5000): Promise<AdminObject[]> {
  return query(socketPath, 'ls', timeoutMs) as Promise<AdminObject[]>;
}
