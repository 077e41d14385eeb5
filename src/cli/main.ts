/**
 * The `plasmapool` command. Each subcommand lives in its own module; this file only wires them
 * and turns failures into exit codes: 2 for a usage error, 1 for a runtime error (usage-error.ts).
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readPackageVersion } from './version.js';
import { storeCommand } from './store-command.js';
import { clusterCommand } from './cluster-command.js';
import { shuffleCommand } from './shuffle-command.js';
import { benchCommand } from './bench-command.js';
import { lsCommand, statCommand } from './inspect-commands.js';
import { evictCommand, getCommand, rmCommand } from './object-commands.js';
import { EXIT_RUNTIME, EXIT_USAGE, UsageError } from './usage-error.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('plasmapool')
  .usage('$0 <command> [options]')
  .command(storeCommand)
  .command(clusterCommand)
  .command(lsCommand)
  .command(statCommand)
  .command(getCommand)
  .command(rmCommand)
  .command(evictCommand)
  .command(shuffleCommand)
  .command(benchCommand)
  .demandCommand(1, 'name a command: plasmapool store -s /tmp/plasma.sock -m 1GiB')
  .strict()
  .version(readPackageVersion())
  .epilogue('Exit codes: 0 success, 1 runtime error (no store, object not found, a store that failed), 2 usage error. Guide: docs/guide.md')
  .help('help')
  .wrap(Math.min(100, process.stdout.columns ?? 100))
  .fail((message, error) => {
    // One line naming the problem and the fix, then the exit code of its kind (no usage dump).
    // yargs passes a message for its own validation (usage); a handler's error comes alone.
    const usage = Boolean(message) || error instanceof UsageError;
    const text = message ?? error?.message ?? 'invalid command line';
    process.stderr.write(`plasmapool: ${text}${usage ? ' (see `plasmapool --help`)' : ''}\n`);
    process.exit(usage ? EXIT_USAGE : EXIT_RUNTIME);
  });

await cli.parseAsync();
