/**
 * How big the reliability checks run (RELIABILITY_SCALE=quick|full, set by
 * scripts/run-reliability.sh), and where they leave their figures.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/processes.js';

export const QUICK = process.env.RELIABILITY_SCALE !== 'full';

export function scaled(quick: number, full: number): number {
  return QUICK ? quick : full;
}

/** Record a check's figures (reliability-results/NAME.json) and print them. */
export function report(name: string, figures: Record<string, unknown>): void {
  const dir = path.join(repoRoot, 'reliability-results');
  fs.mkdirSync(dir, { recursive: true });
  const line = JSON.stringify({ scale: QUICK ? 'quick' : 'full', ...figures });
  fs.writeFileSync(path.join(dir, `${name}.json`), `${line}\n`);
  console.log(`[reliability] ${name}: ${line}`);
}

/** A small deterministic random source, so that a failing run can be repeated by its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
}
