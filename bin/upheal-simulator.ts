/**
 * `npm run simulator`: runs the Upheal simulator as its own process until SIGINT/SIGTERM, with
 * its options on the command line (`--help`). Prints the base URL on stdout; exit 2 on a bad flag.
 */
import { ConfigError } from '#lib/errors.ts';
import { optionsFromArgs, USAGE } from '#tools/simulator/cli-options.ts';
import type { SimulatorOptionsInput } from '#tools/simulator/options.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';

/** Exit status for usage and configuration errors (SPEC §7). */
const EXIT_USAGE = 2;

async function main(): Promise<void> {
  let options: SimulatorOptionsInput | 'help';
  try {
    options = optionsFromArgs(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`upheal-simulator: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(EXIT_USAGE);
  }
  if (options === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  let simulator: Simulator;
  try {
    simulator = await startSimulator(options);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`upheal-simulator: invalid option: ${error.message}\n`);
    process.exit(EXIT_USAGE);
  }
  process.stdout.write(`Upheal simulator listening on ${simulator.url}\n`);
  const shutdown = () => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

await main();
