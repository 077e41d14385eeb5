/**
 * The "other process" of the channel tests. argv[2] is a JSON job; results go back over IPC.
 *   stream: connect, send the whole stream (frames + descriptors) while not reading for stallMs,
 *           and verify the parent's stream.
 *   map:    receive a region descriptor, map it, check the parent's bytes, write a reply.
 *   throw:  check that a throwing handler becomes an uncaught exception and the channel goes on.
 *   unref:  open a listener and a connected channel pair, unref them, and let the process exit.
 */
import { native } from '../../../src/native/index.js';
import { StreamVerifier, openTaggedFiles, sendStream } from './stream.js';

type Job =
  | { role: 'stream'; socketPath: string; frames: number; dir: string; stallMs: number }
  | { role: 'map'; socketPath: string }
  | { role: 'throw' }
  | { role: 'unref'; socketPath: string; unref: boolean };

const job = JSON.parse(process.argv[2]!) as Job;
const send = (message: object) => process.send!(message);

if (job.role === 'stream') {
  const files = openTaggedFiles(job.dir, 'child', Math.floor(job.frames / 10));
  const verifier = new StreamVerifier('parent', job.frames);
  const channel = native.connect(job.socketPath, 'plasma');
  let reported = false;
  const report = () => {
    if (reported || !verifier.done || channel.pendingWriteBytes > 0) return;
    reported = true;
    send({ done: true, error: verifier.error, framesSeen: verifier.framesSeen, fdsSeen: verifier.fdsSeen, maxPending });
  };
  channel.start({
    onFrame: (type, body) => {
      verifier.onFrame(type, body);
      report();
    },
    onFd: (fd) => {
      verifier.onFd(fd);
      report();
    },
    onClose: (reason) => {
      send({ closed: true, reason });
      process.disconnect();
    },
  });
  channel.pauseReading();
  sendStream(channel, files, job.frames);
  const maxPending = channel.pendingWriteBytes;
  // The queue holds duplicates: closing ours now must not change what the parent receives.
  for (const fd of files) native.closeFd(fd);
  setTimeout(() => channel.resumeReading(), job.stallMs);
  const timer = setInterval(report, 20);
  timer.unref();
} else if (job.role === 'map') {
  const channel = native.connect(job.socketPath, 'plasma');
  let regionFd = -1;
  channel.start({
    onFd: (fd) => {
      regionFd = fd;
    },
    onFrame: (_type, body) => {
      const { mapLength, offset, length, replyOffset } = JSON.parse(body.toString()) as Record<string, number>;
      const mapping = native.mapFd(regionFd, mapLength!, false);
      native.closeFd(regionFd); // the mapping stays valid without the descriptor
      const w = mapping.window(offset!, length!);
      const view = new Uint8Array(w.buffer, w.byteOffset, length!);
      let mismatch = -1;
      for (let i = 0; i < length!; i++) {
        if (view[i] !== ((i * 31 + 7) & 0xff)) {
          mismatch = i;
          break;
        }
      }
      const reply = mapping.window(replyOffset!, 4);
      new Uint8Array(reply.buffer, reply.byteOffset, 4).set([0xde, 0xad, 0xbe, 0xef]);
      const magic = mapping.window(0, 8);
      const header = Buffer.from(magic.buffer, magic.byteOffset, 8).toString('latin1');
      channel.sendFrame(2, Buffer.from(JSON.stringify({ mismatch, header, address: mapping.address().toString() })));
      mapping.close();
      channel.end();
    },
    onClose: () => process.disconnect(),
  });
} else if (job.role === 'throw') {
  const uncaught: string[] = [];
  process.on('uncaughtException', (error) => uncaught.push(error.message));
  const [a, b] = native.socketPair();
  const tx = native.channelFromFd(a, 'plasma');
  const rx = native.channelFromFd(b, 'plasma');
  const types: number[] = [];
  rx.start({
    onFrame: (type) => {
      types.push(type);
      if (type === 2) throw new Error('handler failed on frame 2');
    },
    onFd: () => {},
    onClose: () => {
      send({ types, uncaught });
      process.disconnect();
    },
  });
  tx.start({ onFrame: () => {}, onFd: () => {}, onClose: () => {} });
  for (const type of [1, 2, 3, 4]) tx.sendFrame(type, Buffer.from('x'));
  tx.end();
} else if (job.role === 'unref') {
  // Everything stays open; only unref() decides whether the loop may end.
  const accepted: ReturnType<typeof native.connect>[] = [];
  const listener = native.listen(job.socketPath, 'plasma', (channel) => {
    accepted.push(channel);
    channel.start({ onFrame: () => {}, onFd: () => {}, onClose: () => {} });
    if (job.unref) channel.unref();
  });
  const client = native.connect(job.socketPath, 'plasma');
  client.start({ onFrame: () => {}, onFd: () => {}, onClose: () => {} });
  if (job.unref) {
    client.unref();
    listener.unref();
  }
  process.disconnect();
}
