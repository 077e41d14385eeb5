/**
 * Issue 10's small-object figures, measured by bench/py/small_ops.py: the pyarrow 11 client
 * against the reference store and plasmapool, alternating round by round in one run (1 kB
 * create+write+seal and get+release medians, store CPU per request, the same into a full store
 * that evicts as it goes, contains() of ids that are not there, get+release of a 100 MB object). Memory per object comes from the
 * memory section (pyarrow against both stores).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Mode } from '../lib/options.js';
import type { SmallOpsResult } from '../lib/results.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'py', 'small_ops.py');

export async function runSmallOps(python: string, mode: Mode, tmp: string): Promise<SmallOpsResult> {
  const out = path.join(tmp, 'small-ops.json');
  const args =
    mode === 'full'
      ? ['--rounds', '3', '--count', '6000', '--large-gets', '50', '--evicting-count', '6000']
      : ['--rounds', '1', '--count', '1500', '--large-gets', '10', '--evicting-count', '1500'];
  await new Promise<void>((resolve, reject) => {
    execFile(python, ['-W', 'ignore', script, ...args, '--memory-objects', '0', '--out', out], { maxBuffer: 16 << 20 }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`small_ops.py failed: ${error.message}\n${stderr.slice(-2000)}`));
      else resolve();
    });
  });
  const parsed = JSON.parse(fs.readFileSync(out, 'utf8')) as SmallOpsResult;
  return parsed;
}
