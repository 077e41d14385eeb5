/**
 * The fault table of the host tests: per fault, what was observed, the time to detect and to
 * recover, and the duplicate ids found. Written to reliability-results/hosts-faults.json
 * (gitignored; entries of other runs of other faults are kept) and printed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/processes.js';

export interface FaultResult {
  fault: string;
  /** 'static' (--peer) or 'etcd' (--etcd). */
  membership: 'static' | 'etcd';
  observed: string;
  /** From the fault to the cluster noticing it (ms), or null when not applicable. */
  detectMs: number | null;
  /** From the repair to everything working again (ms), or null when not applicable. */
  recoverMs: number | null;
  duplicateIds: number;
  /** Further figures (get latencies, counts). */
  figures?: Record<string, number | string>;
  at?: string;
}

export const faultResultsFile = path.join(repoRoot, 'reliability-results/hosts-faults.json');

export function recordFault(result: FaultResult): void {
  const entry = { ...result, at: new Date().toISOString() };
  fs.mkdirSync(path.dirname(faultResultsFile), { recursive: true });
  let all: FaultResult[] = [];
  try {
    all = JSON.parse(fs.readFileSync(faultResultsFile, 'utf8')) as FaultResult[];
  } catch {
    // first entry
  }
  all = all.filter((r) => !(r.fault === entry.fault && r.membership === entry.membership));
  all.push(entry);
  fs.writeFileSync(faultResultsFile, `${JSON.stringify(all, null, 2)}\n`);
  const ms = (value: number | null) => (value === null ? '-' : `${Math.round(value)} ms`);
  process.stdout.write(
    `[fault] ${entry.fault} (${entry.membership}): ${entry.observed}; detect ${ms(entry.detectMs)}, recover ${ms(entry.recoverMs)}, duplicate ids ${entry.duplicateIds}` +
      `${entry.figures ? ` ${JSON.stringify(entry.figures)}` : ''}\n`,
  );
}
