/**
 * The benchmark entry point: `npm run bench` (full run, for the record) or
 * `npm run bench -- --quick` (about a minute, the CI smoke check). `plasmapool bench` runs this
 * same file. See docs/benchmarks.md for what each figure means.
 */
import { interruptedBy } from './lib/cleanup.js';
import { runBenchmarks } from './lib/harness.js';
import { parseBenchArgs, UsageError } from './lib/options.js';
import { renderOnly } from './lib/report.js';

let code: number;
try {
  const options = parseBenchArgs(process.argv.slice(2));
  code = options.render ? renderOnly(options.render) : await runBenchmarks(options);
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(error.message + '\n');
    code = /^usage:/.test(error.message) ? 0 : 2;
  } else if (interruptedBy()) {
    // Ctrl-C: what broke is the stores going away; the signal handler finishes the cleanup and exits.
    await new Promise(() => undefined);
    code = 130;
  } else {
    process.stderr.write(`bench: ${(error as Error).stack ?? error}\n`);
    code = 1;
  }
}
// Stray handles (gRPC channels, finalizers) must not keep a finished run alive.
process.exit(code);
