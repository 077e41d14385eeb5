// A small deterministic random source (xorshift32) for the reliability workers, so that a run can
// be repeated from its seed. The test side has the same generator in scale.ts.
export function seededRandom(seed) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}
