/**
 * The example in the package documentation (src/index.ts) runs as written against the built
 * package, so that what a new user pastes works.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../helpers/processes.js';

const run = promisify(execFile);

describe('package example', () => {
  it('runs and prints the column it put', async () => {
    const entry = fs.readFileSync(path.join(repoRoot, 'src/index.ts'), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(entry)?.[1];
    expect(block, 'src/index.ts has a ```ts example').toBeTruthy();
    const source = block!.replace(/^ \* ?/gm, '');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    const dist = pathToFileURL(path.join(repoRoot, 'dist/index.js')).href;
    // Inside the repository, so that 'apache-arrow' resolves from its node_modules.
    const dir = fs.mkdtempSync(path.join(repoRoot, 'node_modules/.pp-example-'));
    try {
      const script = path.join(dir, 'example.mjs');
      fs.writeFileSync(script, outputText.replace(/from 'plasmapool'/, `from ${JSON.stringify(dist)}`));
      const { stdout } = await run(process.execPath, [script], { timeout: 30_000 });
      expect(stdout).toContain('Float64Array(3) [ 3, -1.5, 12 ]');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startStore in a process that dies', () => {
  it('leaves no socket directory behind when the host process dies of an uncaught exception', async () => {
    const dist = pathToFileURL(path.join(repoRoot, 'dist/index.js')).href;
    const script = `import { startStore } from ${JSON.stringify(dist)};
const store = await startStore({ memory: '16MiB' });
console.log(store.socketPath);
setTimeout(() => { throw new Error('the host application crashed'); }, 10);
`;
    const result = await run(process.execPath, ['--input-type=module', '-e', script]).then(
      () => null,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(result?.code).toBe(1);
    expect(result!.stderr).toContain('the host application crashed');
    const socketPath = result!.stdout.trim();
    expect(socketPath).toMatch(/plasma\.sock$/);
    expect(fs.existsSync(path.dirname(socketPath))).toBe(false);
  });
});
