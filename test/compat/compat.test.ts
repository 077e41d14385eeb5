// Runs the Python compatibility suite (scripts/run-compat-tests.sh: our pytest
// files in test/compat plus pyarrow 11's own tests/test_plasma.py, all through
// the real pyarrow client) so that `npm test` covers Plasma compatibility.
// Needs a built tree (`npm run build`); the script sets up .venv on first use.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const script = join(repo, 'scripts', 'run-compat-tests.sh');
const TEN_MINUTES = 600_000;

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
      env: { ...process.env, COMPAT_RESULTS_DIR: resultsDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can end pytest and its stores
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n[compat.test.ts] run-compat-tests.sh still running after ${timeoutMs} ms: killed\n`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.on('error', fail);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, output });
    });
  });
}

describe('Plasma compatibility with the real pyarrow 11 client', () => {
  it(
    'passes test/compat and upstream test_plasma.py against plasmapool',
    async () => {
      const results = mkdtempSync(join(tmpdir(), 'plasmapool-compat-'));
      try {
        const run = await runScript(results, TEN_MINUTES - 15_000);
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
