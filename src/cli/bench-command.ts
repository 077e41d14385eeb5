/**
 * `plasmapool bench`: the benchmark harness (bench/run.ts, the same as `npm run bench`), run from
 * a source checkout. The harness is TypeScript outside the package's build, so this command
 * starts it with tsx in a child process, passes the flags through, and leaves Ctrl-C to it: the
 * harness stops every store and cluster it started and removes their region files.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';

interface BenchArgs {
  quick: boolean;
  out?: string;
  only?: string;
  skip?: string;
  repeats?: number;
  'scale-seconds'?: number;
  'memory-objects'?: number;
  python: boolean;
}

/** The repository root: src/cli or dist/cli, two levels down. */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench',
  describe: 'run the benchmarks (microbenchmark matrix, pyarrow and the reference store, Arrow tables, scale); results in bench/results/',
  builder: (y) =>
    y
      .option('quick', { type: 'boolean', default: false, describe: 'about a minute: few repeats, shrunk large workloads (a smoke check)' })
      .option('out', { type: 'string', describe: 'results directory (default bench/results/full or bench/results/quick)' })
      .option('only', { type: 'string', describe: 'comma-separated sections: baselines,pyarrow,matrix,tables,scale,memory' })
      .option('skip', { type: 'string', describe: 'sections to leave out' })
      .option('repeats', { type: 'number', describe: 'repeats of every microbenchmark workload' })
      .option('scale-seconds', { type: 'number', describe: 'seconds per scale measurement' })
      .option('memory-objects', { type: 'number', describe: 'objects for the memory-per-object figure' })
      .option('python', { type: 'boolean', default: true, describe: 'pyarrow and the reference store (--no-python skips them)' }) as never,
  handler: async (args) => {
    const script = path.join(root, 'bench/run.ts');
    if (!fs.existsSync(script)) {
      process.stderr.write(`plasmapool bench: ${script} is missing: the benchmarks run from a source checkout (git clone, npm install, npm run build)\n`);
      process.exit(1);
    }
    if (!fs.existsSync(path.join(root, 'node_modules/tsx/package.json'))) {
      process.stderr.write('plasmapool bench: tsx is not installed: run `npm install` in the checkout (it is a dev dependency)\n');
      process.exit(1);
    }
    const forward: string[] = [];
    if (args.quick) forward.push('--quick');
    if (!args.python) forward.push('--no-python');
    for (const name of ['out', 'only', 'skip', 'repeats', 'scale-seconds', 'memory-objects'] as const) {
      if (args[name] !== undefined) forward.push(`--${name}`, String(args[name]));
    }
    // `--import tsx` resolves from the working directory: the checkout's node_modules.
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...forward], { cwd: root, stdio: 'inherit' });
    // Ctrl-C reaches the harness directly (same process group); it cleans up and exits. Wait for it.
    const ignore = () => undefined;
    process.on('SIGINT', ignore);
    process.on('SIGTERM', () => child.kill('SIGTERM'));
    child.once('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
  },
};
