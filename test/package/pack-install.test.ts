/**
 * The npm package as a user gets it: `npm pack`, then install the tarball into a scratch project
 * that has its own apache-arrow and no compiler on its PATH, and run the README's TypeScript
 * example there. The prebuilt linux-x64 binary must be what loads.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { onCleanup, repoRoot, tempDir } from '../helpers/processes.js';

const run = promisify(execFile);
const npmCli = path.join(path.dirname(fs.realpathSync(process.execPath)), '../lib/node_modules/npm/bin/npm-cli.js');

/** A PATH with node and sh (npm runs scripts with it) and nothing else: no cc, g++, make or python. */
function bareBin(): string {
  const bin = tempDir('pp-bin-');
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  return bin;
}

describe.skipIf(process.platform !== 'linux' || process.arch !== 'x64')('package: npm pack and install without a compiler', () => {
  it('1. the tarball carries the prebuilt binary, installs with the project\'s own apache-arrow, and runs the README example', async () => {
    expect(fs.existsSync(npmCli), `npm at ${npmCli}`).toBe(true);
    // What `npm pack`'s prepack does, reusing the addon already built here (a rebuild would pull
    // the library from under the other test files running now).
    await run(process.execPath, ['scripts/build-native.mjs', '--prebuild', '--reuse'], { cwd: repoRoot });
    onCleanup(() => fs.rmSync(path.join(repoRoot, 'prebuilds'), { recursive: true, force: true }));
    const packDir = tempDir('pp-pack-');
    const { stdout: packed } = await run(process.execPath, [npmCli, 'pack', '--ignore-scripts', '--json', '--pack-destination', packDir], {
      cwd: repoRoot,
      maxBuffer: 64 * 1024 * 1024,
    });
    const [info] = JSON.parse(packed) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'prebuilds/linux-x64/node.napi.glibc.node', 'dist/index.js', 'dist/shuffle.js', 'binding.gyp']));
    expect(files.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.startsWith('build/'))).toEqual([]);

    const project = tempDir('pp-scratch-');
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
    const bin = bareBin();
    const env = { HOME: process.env.HOME ?? '/root', PATH: bin, npm_config_cache: process.env.npm_config_cache ?? path.join(process.env.HOME ?? '/root', '.npm') };
    for (const tool of ['cc', 'c++', 'g++', 'make', 'python3']) {
      await expect(run('/bin/sh', ['-c', `command -v ${tool}`], { env }), tool).rejects.toThrow();
    }
    const { stdout: installLog } = await run(process.execPath, [npmCli, 'install', '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund', path.join(packDir, info!.filename), 'apache-arrow@^21'], {
      cwd: project,
      env,
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const installed = path.join(project, 'node_modules/plasmapool');
    // npm may skip a dependency's install script (npm 11 asks first); when it runs, it takes the prebuilt binary.
    if (installLog.includes('plasmapool:')) expect(installLog).toContain('using the prebuilt native addon');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false); // nothing was compiled
    expect(fs.existsSync(path.join(installed, 'node_modules/apache-arrow'))).toBe(false); // one apache-arrow: the project's
    for (const heavy of ['vega-datasets', 'parquet-wasm', 'cli-progress']) expect(fs.existsSync(path.join(project, 'node_modules', heavy)), heavy).toBe(false);

    // The README's TypeScript example, as a user pastes it.
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const block = /## TypeScript[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block, 'README.md has a ```ts example under ## TypeScript').toBeTruthy();
    const { outputText } = ts.transpileModule(block!, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } });
    fs.writeFileSync(path.join(project, 'example.mjs'), outputText);
    const { stdout } = await run(process.execPath, ['example.mjs'], { cwd: project, env, timeout: 60_000 });
    expect(stdout).toMatch(/x: 1,\s*y: 'a'/);
    expect(stdout).toMatch(/x: 3,\s*y: 'c'/);

    // The prebuilt binary is what loaded; the shuffle entry imports without its optional packages;
    // the command runs.
    const probe = [
      "import { createRequire } from 'node:module';",
      "const require = createRequire(import.meta.url);",
      "console.log(require('node-gyp-build').resolve(require('node:path').dirname(require.resolve('plasmapool/package.json'))));",
      "const shuffle = await import('plasmapool/shuffle');",
      "console.log(typeof shuffle.runShuffle, typeof shuffle.partitionTable);",
      "const core = await import('plasmapool');",
      "console.log(Object.keys(core).sort().join(','));",
    ].join('\n');
    fs.writeFileSync(path.join(project, 'probe.mjs'), probe);
    const { stdout: probed } = await run(process.execPath, ['probe.mjs'], { cwd: project, env });
    const [binary, shuffleTypes, coreNames] = probed.trim().split('\n');
    expect(binary).toBe(path.join(fs.realpathSync(installed), 'prebuilds/linux-x64/node.napi.glibc.node'));
    expect(shuffleTypes).toBe('function function');
    expect(coreNames!.split(',')).not.toContain('runShuffle');
    expect(coreNames!.split(',')).toEqual(expect.arrayContaining(['connect', 'startStore', 'putTable', 'getTable', 'ObjectId', 'PlasmapoolError']));
    const { stdout: version } = await run(path.join(project, 'node_modules/.bin/plasmapool'), ['--version'], { cwd: project, env });
    expect(version.trim()).toBe(JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  }, 300_000);
});
