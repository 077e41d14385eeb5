// Runs the Python client's pytest suite (python/run-tests.sh: python/tests on Python >= 3.12
// with the newest pyarrow and numpy 2, against `plasmapool store` and pyarrow 11's reference
// store, with the TypeScript and pyarrow 11 clients as interop parties) so that `npm test`
// covers the Python client. Needs a built tree (`npm run build`); the script creates .venv and
// .venv-modern on first use.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'python', 'run-tests.sh');
const FIFTEEN_MINUTES = 900_000;

interface Run {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

// Asynchronous on purpose: a blocked worker event loop would starve vitest's RPC.
function runScript(resultsDir: string, timeoutMs: number): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [script], {
      cwd: repo,
      env: { ...process.env, PYCLIENT_RESULTS_DIR: resultsDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can end pytest and its stores
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n[python-client.test.ts] python/run-tests.sh still running after ${timeoutMs} ms: killed\n`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', fail);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, output });
    });
  });
}

describe('the plasmapool Python client on Python >= 3.12, newest pyarrow, numpy 2', () => {
  it(
    'passes python/tests against plasmapool store and the reference store',
    async () => {
      const results = mkdtempSync(join(tmpdir(), 'plasmapool-pyclient-'));
      try {
        const run = await runScript(results, FIFTEEN_MINUTES - 15_000);
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
