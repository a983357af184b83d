/**
 * The lab's command line: `npm run lab -- up|status|down ...` (see cli-args.ts for the flags).
 */
import { parseLabArgs, USAGE } from './cli-args.ts';
import { formatStatus } from './format.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { cutApi, liftApiFault } from './api-faults.ts';
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
    case 'fault': {
      if (command.action === 'lift') {
        await liftApiFault(command.prefix, command.target);
        process.stdout.write(`lab ${command.prefix}: ${command.target} API server reachable again\n`);
        return 0;
      }
      await cutApi(command.prefix, command.target, command.action);
      if (command.seconds === undefined) {
        process.stdout.write(`lab ${command.prefix}: ${command.target} API server cut (${command.action}); lift with: npm run lab -- fault lift --target ${command.target} --prefix ${command.prefix}\n`);
        return 0;
      }
      process.stdout.write(`lab ${command.prefix}: ${command.target} API server cut (${command.action}) for ${command.seconds} s\n`);
      // Lifted also when interrupted: a fault must not outlive the command that promised to lift it.
      const lift = () => liftApiFault(command.prefix, command.target);
      process.once('SIGINT', () => { void lift().finally(() => process.exit(130)); });
      await sleep(command.seconds * 1000);
      await lift();
      process.stdout.write(`lab ${command.prefix}: ${command.target} API server reachable again\n`);
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
