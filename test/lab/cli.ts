/**
 * The lab's command line: `npm run lab -- up|status|down ...` (see cli-args.ts for the flags).
 */
import { parseLabArgs, USAGE } from './cli-args.ts';
import { formatStatus } from './format.ts';
import { labDown, labStatus, labUp } from './lab.ts';

async function main(argv: string[]): Promise<number> {
  let command;
  try {
    command = parseLabArgs(argv);
  } catch (error) {
    process.stderr.write(`lab: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  switch (command.command) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case 'up': {
      const started = Date.now();
      const status = await labUp(command.options);
      if (command.json) process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      else process.stdout.write(`${formatStatus(status)}\nup in ${((Date.now() - started) / 1000).toFixed(1)} s; tear down with: npm run lab -- down --prefix ${status.prefix}\n`);
      return 0;
    }
    case 'status': {
      const status = await labStatus(command.prefix);
      process.stdout.write(command.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
      return 0;
    }
    case 'down': {
      const report = await labDown(command.prefix);
      process.stdout.write(`lab ${command.prefix}: removed ${report.namespaces.length} namespace(s) and ${report.processes.length} process(es)\n`);
      return 0;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`lab: ${error.message}\n`);
    process.exit(1);
  },
);
