import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createNetns } from './netns.ts';

const INSIDE_ENV = 'SEAWAY_TEST_NETNS';

/**
 * Makes the calling test file run inside a fresh network namespace, so kernel code under test
 * (netlink sockets, iptables, sysctls) acts on the throwaway namespace and never on the root one.
 * Outside: creates the namespace, re-runs this same file in it with the same Node and flags
 * (the test runner's reporting channel is inherited), removes the namespace, exits with the
 * child's code. Inside: returns the namespace's name. A child still running after `timeoutMs` (a
 * hang the runner's per-test timeout did not end) is killed, and the file fails saying so.
 */
export async function runInsideNetns(fileUrl: string, label = 'k', timeoutMs = 20 * 60_000): Promise<string> {
  const inside = process.env[INSIDE_ENV];
  if (inside) return inside;
  const ns = await createNetns(label);
  let code = 1;
  try {
    code = await new Promise<number>((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, ...process.execArgv, fileURLToPath(fileUrl)], {
        stdio: 'inherit',
        env: { ...process.env, [INSIDE_ENV]: ns.name },
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
      });
      child.on('error', reject);
      child.on('close', (exitCode, signal) => {
        if (signal !== null) console.error(`${fileURLToPath(fileUrl)} in ${ns.name} ended by ${signal}${signal === 'SIGKILL' ? ` (still running after ${timeoutMs} ms, or killed from outside)` : ''}`);
        resolve(exitCode ?? 1);
      });
    });
  } finally {
    await ns.destroy();
  }
  process.exit(code);
}
