// Runs a shell script of the repository in its own process group (so that a timeout ends the
// script and every store it started) and collects its output. Asynchronous on purpose: a blocked
// worker event loop would starve vitest's RPC. Used by the suites that wrap pytest runs.
import { spawn } from 'node:child_process';

export interface ScriptRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

export function runScript(script: string, options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<ScriptRun> {
  return new Promise((done, fail) => {
    const child = spawn('bash', [script], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      output += `\n[run-script] ${script} still running after ${options.timeoutMs} ms: killed\n`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, options.timeoutMs);
    child.on('error', fail);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({ status, signal, output });
    });
  });
}
