/**
 * The `plasmapool` command. Each subcommand lives in its own module; this file only wires them.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { readPackageVersion } from './version.js';
import { storeCommand } from './store-command.js';
import { clusterCommand } from './cluster-command.js';
import { shuffleCommand } from './shuffle-command.js';
import { benchCommand } from './bench-command.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('plasmapool')
  .usage('$0 <command> [options]')
  .command(storeCommand)
  .command(clusterCommand)
  .command(shuffleCommand)
  .command(benchCommand)
  .demandCommand(1, 'name a command: plasmapool store -s /tmp/plasma.sock -m 1GiB')
  .strict()
  .version(readPackageVersion())
  .help('help')
  .wrap(Math.min(100, process.stdout.columns ?? 100))
  .fail((message, error) => {
    // One line naming the problem and the fix, then a non-zero exit (no usage dump).
    const text = message ?? error?.message ?? 'invalid command line';
    process.stderr.write(`plasmapool: ${text} (see \`plasmapool --help\`)\n`);
    process.exit(1);
  });

await cli.parseAsync();
