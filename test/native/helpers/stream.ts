/**
 * A deterministic stream of frames interleaved with descriptors, and a verifier for it, shared by
 * the parent test and the child peer. Frame i has type (i % 50) + 1 and a body of 16 to 1015
 * bytes that starts with i; after every FD_EVERY-th frame comes descriptor k, an open file whose
 * content is `${prefix}-${k}`, so the receiver can tell exactly which file it got.
 */
import fs from 'node:fs';
import path from 'node:path';
import { native, type NativeChannel } from '../../../src/native/index.js';

export const FD_EVERY = 10;

export function frameType(seq: number): number {
  return (seq % 50) + 1;
}

export function frameBody(seq: number): Buffer {
  const body = Buffer.alloc(16 + ((seq * 7919) % 1000));
  body.writeUInt32LE(seq, 0);
  for (let j = 4; j < body.length; j++) body[j] = (seq + j) & 0xff;
  return body;
}

/** Files `${prefix}-${k}` in dir, opened; the caller owns the descriptors. */
export function openTaggedFiles(dir: string, prefix: string, count: number): number[] {
  const fds: number[] = [];
  for (let k = 0; k < count; k++) {
    const file = path.join(dir, `${prefix}-${k}`);
    fs.writeFileSync(file, `${prefix}-${k}`);
    fds.push(fs.openSync(file, 'r'));
  }
  return fds;
}

/** Queue the whole stream on channel (frames, and fds[k] after every FD_EVERY frames). */
export function sendStream(channel: NativeChannel, fds: number[], frames: number): void {
  for (let i = 0; i < frames; i++) {
    channel.sendFrame(frameType(i), frameBody(i));
    if ((i + 1) % FD_EVERY === 0) channel.sendFd(fds[(i + 1) / FD_EVERY - 1]!);
  }
}

/** Checks events against the stream; the first mismatch is kept in `error`. */
export class StreamVerifier {
  framesSeen = 0;
  fdsSeen = 0;
  error: string | null = null;
  private expectFd = false;

  constructor(
    private readonly prefix: string,
    private readonly frames: number,
  ) {}

  get done(): boolean {
    return this.error !== null || (this.framesSeen === this.frames && !this.expectFd);
  }

  onFrame = (type: number, body: Buffer): void => {
    if (this.error) return;
    const seq = this.framesSeen;
    if (this.expectFd) return this.fail(`frame arrived where descriptor ${this.fdsSeen} was expected (after frame ${seq - 1})`);
    if (seq >= this.frames) return this.fail(`unexpected frame after the end of the stream`);
    if (type !== frameType(seq) || !body.equals(frameBody(seq))) {
      return this.fail(`frame ${seq}: got type ${type}, ${body.length} bytes starting with seq ${body.length >= 4 ? body.readUInt32LE(0) : '?'}`);
    }
    this.framesSeen++;
    if (this.framesSeen % FD_EVERY === 0) this.expectFd = true;
  };

  onFd = (fd: number): void => {
    try {
      if (this.error) return;
      if (!this.expectFd) return this.fail(`descriptor arrived after frame ${this.framesSeen - 1}, where a frame was expected`);
      const buf = Buffer.alloc(64);
      const n = fs.readSync(fd, buf, 0, 64, 0);
      const tag = buf.subarray(0, n).toString();
      if (tag !== `${this.prefix}-${this.fdsSeen}`) return this.fail(`descriptor ${this.fdsSeen} is file "${tag}"`);
      this.fdsSeen++;
      this.expectFd = false;
    } finally {
      native.closeFd(fd);
    }
  };

  private fail(message: string): void {
    this.error = message;
  }
}
