// Runs the Python client's pytest suite (python/run-tests.sh: python/tests on Python >= 3.12
// with the newest pyarrow and numpy 2, against `plasmapool store` and pyarrow 11's reference
// store, with the TypeScript and pyarrow 11 clients as interop parties) so that `npm test`
// covers the Python client. Needs a built tree (`npm run build`); the script creates .venv and
// .venv-modern on first use.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScript } from '../helpers/run-script.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'python', 'run-tests.sh');
const FIFTEEN_MINUTES = 900_000;

describe('the plasmapool Python client on Python >= 3.12, newest pyarrow, numpy 2', () => {
  it(
    'passes python/tests against plasmapool store and the reference store',
    async () => {
      const results = mkdtempSync(join(tmpdir(), 'plasmapool-pyclient-'));
      try {
        const run = await runScript(script, {
          cwd: repo,
          env: { ...process.env, PYCLIENT_RESULTS_DIR: results },
          timeoutMs: FIFTEEN_MINUTES - 15_000,
        });
        const summaryFile = join(results, 'summary.txt');
        const summary = existsSync(summaryFile) ? readFileSync(summaryFile, 'utf8') : run.output.slice(-8000);
        if (run.status !== 0) console.error(`python/run-tests.sh exited ${run.status ?? run.signal}\n${summary}`);
        expect(run.status, `pytest summary:\n${summary}`).toBe(0);
        expect(readFileSync(join(results, 'pytest.log'), 'utf8')).toMatch(/\d+ passed/);
      } finally {
        rmSync(results, { recursive: true, force: true });
      }
    },
    FIFTEEN_MINUTES,
  );
});
