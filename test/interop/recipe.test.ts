/**
 * docs/pyarrow-recipe.md runs as written: its TypeScript and Python code blocks, in order, against
 * a real store with the real pyarrow 11 client.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { startStoreProcess, onCleanup, repoRoot } from '../helpers/processes.js';

const run = promisify(execFile);
const python = path.join(repoRoot, '.venv/bin/python');

function blocks(markdown: string): { lang: string; code: string }[] {
  return [...markdown.matchAll(/```(ts|python)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1]!, code: m[2]! }));
}

describe('docs: the TypeScript ↔ pyarrow recipe', () => {
  it('1. its four programs run in order and print what the page says', async () => {
    if (!fs.existsSync(python)) throw new Error(`${python} is missing: run \`bash scripts/setup-python.sh --no-notebooks\` (pyarrow 11)`);
    const page = fs.readFileSync(path.join(repoRoot, 'docs/pyarrow-recipe.md'), 'utf8');
    const programs = blocks(page);
    expect(programs.map((p) => p.lang)).toEqual(['ts', 'python', 'python', 'ts']);
    const store = await startStoreProcess('64MiB');
    const env = { ...process.env, PLASMA_SOCKET: store.socketPath };
    // Inside the repository, so that 'apache-arrow' resolves from its node_modules.
    const dir = fs.mkdtempSync(path.join(repoRoot, 'node_modules/.pp-recipe-'));
    onCleanup(() => fs.rmSync(dir, { recursive: true, force: true }));
    const dist = pathToFileURL(path.join(repoRoot, 'dist/index.js')).href;
    const outputs: string[] = [];
    for (const [i, program] of programs.entries()) {
      if (program.lang === 'ts') {
        const { outputText } = ts.transpileModule(program.code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
        const file = path.join(dir, `step-${i}.mjs`);
        fs.writeFileSync(file, outputText.replace(/from 'plasmapool'/g, `from ${JSON.stringify(dist)}`));
        outputs.push((await run(process.execPath, [file], { env, timeout: 30_000 })).stdout.trim());
      } else {
        outputs.push((await run(python, ['-c', program.code], { env, timeout: 30_000 })).stdout.trim());
      }
    }
    expect(outputs[1]).toBe("{'city': ['Lyon', 'Oslo', 'Quito'], 'temp': [11.5, -2.0, 14.25]}");
    expect(page).toContain(`It prints \`${outputs[1]}\``);
    expect(outputs[3]).toBe('[{"station":"Tromsø","rain_mm":3.5,"year":2025},{"station":"Nice","rain_mm":0,"year":2026}]');
    expect(page).toContain(`It prints \`${outputs[3]}\``);
  });
});
