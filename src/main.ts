#!/usr/bin/env node
import { parseConfig, ConfigError } from './config.ts';
import { createLogger } from './telemetry/logger.ts';
import packageJson from '../package.json' with { type: 'json' };

/**
 * Parses and validates the configuration before anything else, then loads only what the command
 * needs: `cleanup` must be fast on an uninstall and never loads the Kubernetes client.
 */
async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let config;
  try {
    config = parseConfig(argv, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`seaway: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  switch (config.command) {
    case 'help':
      process.stdout.write(config.text);
      return 0;
    case 'version':
      process.stdout.write(`seaway ${packageJson.version}\n`);
      return 0;
    case 'cleanup': {
      const { cleanup } = await import('./cleanup.ts');
      return cleanup(config.filterBackend, config.stateDir, config.xtablesLock, createLogger(config.logLevel));
    }
    case 'uninstall': {
      const { runUninstall } = await import('./uninstall-command.ts');
      return runUninstall(config, createLogger(config.cleanup.logLevel));
    }
    case 'status': {
      const { status } = await import('./status-command.ts');
      return status(config.statusSocket, config.json, process.stdout, process.stderr);
    }
    case 'diagnose': {
      const { diagnose } = await import('./diagnose/diagnose-command.ts');
      return diagnose(config, process.stdout, process.stderr);
    }
    case 'rotate-wireguard-key': {
      const { rotateWireguardKey } = await import('./cable/rotate-key-command.ts');
      return rotateWireguardKey(config.stateDir, process.stdout, process.stderr);
    }
    case 'run': {
      const { run } = await import('./run.ts');
      const { code, forceExit } = await run(config, createLogger(config.logLevel));
      // Past the shutdown deadline something still holds the event loop open: leave regardless.
      if (forceExit) process.exit(code);
      return code;
    }
    case 'gateway': {
      const { runGateway } = await import('./gateway/run-gateway.ts');
      const { code, forceExit } = await runGateway(config, createLogger(config.logLevel));
      if (forceExit) process.exit(code);
      return code;
    }
  }
}

main(process.argv.slice(2), process.env).then(
  (code) => { process.exitCode = code; },
  (error: unknown) => {
    // run may still find the configuration invalid (a kubeconfig that does not load), before touching anything.
    if (error instanceof ConfigError) {
      process.stderr.write(`seaway: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`seaway: fatal: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
