// The copy transport verifies replicas with an incremental Plasma digest: it must equal the
// client's digest (src/protocol/digest.ts) however the bytes are split on arrival.
import { describe, expect, it } from 'vitest';
import xxhash from 'xxhash-wasm';
import { DigestStream } from '../../src/cluster/digest-stream.js';
import { loadDigest } from '../../src/protocol/digest.js';

describe('cluster: DigestStream', () => {
  it('equals plasmaDigest for small, chunked and boundary sizes, with any piece sizes', async () => {
    const plasmaDigest = await loadDigest();
    const hasher = await xxhash();
    // Below and above 1 MiB; an exact multiple of 8·64 (empty suffix); odd sizes; metadata or not.
    const cases: [number, number][] = [
      [0, 0],
      [0, 5],
      [1, 0],
      [1000, 31],
      [(1 << 20) - 1, 7],
      [1 << 20, 0],
      [(1 << 20) + 1, 3],
      [8 * 64 * 4096, 0],
      [3_333_333, 100],
    ];
    for (const [dataSize, metadataSize] of cases) {
      const bytes = new Uint8Array(dataSize + metadataSize);
      for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
      const expected = plasmaDigest(bytes.subarray(0, dataSize), bytes.subarray(dataSize));
      for (const piece of [1 << 22, 65_536, 999_983, 7]) {
        if (piece === 7 && bytes.length > 100_000) continue;
        const stream = new DigestStream(hasher, dataSize, metadataSize);
        for (let at = 0; at < bytes.length; at += piece) stream.update(bytes.subarray(at, at + piece));
        expect(Buffer.from(stream.digest()).toString('hex'), `${dataSize}+${metadataSize} in pieces of ${piece}`).toBe(
          Buffer.from(expected).toString('hex'),
        );
      }
    }
  });

  it('refuses to give a digest before every byte arrived', async () => {
    const stream = new DigestStream(await xxhash(), 10, 0);
    stream.update(new Uint8Array(5));
    expect(() => stream.digest()).toThrow(/5 bytes of 10/);
  });
});
