// Runs the Python compatibility suite (scripts/run-compat-tests.sh: our pytest
// files in test/compat plus pyarrow 11's own tests/test_plasma.py, all through
// the real pyarrow client) so that `npm test` covers Plasma compatibility.
// Needs a built tree (`npm run build`); the script sets up .venv on first use.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScript } from '../helpers/run-script.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'scripts', 'run-compat-tests.sh');
const TEN_MINUTES = 600_000;

describe('Plasma compatibility with the real pyarrow 11 client', () => {
  it(
    'passes test/compat and upstream test_plasma.py against plasmapool',
    async () => {
      const results = mkdtempSync(join(tmpdir(), 'plasmapool-compat-'));
      try {
        const run = await runScript(script, {
          cwd: repo,
          env: { ...process.env, COMPAT_RESULTS_DIR: results },
          timeoutMs: TEN_MINUTES - 15_000,
        });
        const summaryFile = join(results, 'summary.txt');
        const summary = existsSync(summaryFile)
          ? readFileSync(summaryFile, 'utf8')
          : run.output.slice(-8000);
        if (run.status !== 0) {
          console.error(`scripts/run-compat-tests.sh exited ${run.status ?? run.signal}\n${summary}`);
        }
        expect(run.status, `pytest summary:\n${summary}`).toBe(0);
      } finally {
        rmSync(results, { recursive: true, force: true });
      }
    },
    TEN_MINUTES,
  );
});
