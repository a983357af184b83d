import type { ProcessRunner } from './iptables.ts';

/**
 * The `ipset save` lines of the named sets that exist; missing sets are simply absent. One
 * `ipset save` of every set rather than one process per name: on the path of every pass, a
 * process start costs more than skipping the lines of other owners' sets.
 */
export async function ipsetSave(runner: ProcessRunner, names: readonly string[]): Promise<string> {
  let result;
  try {
    result = await runner('ipset', ['save'], { allowFailure: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ''; // no ipset tool: no sets to see
    throw error;
  }
  if (result.code !== 0) throw new Error(`ipset save exited ${result.code}: ${result.stderr.trim()}`);
  const wanted = new Set(names);
  const kept: string[] = [];
  for (const line of result.stdout.split('\n')) {
    const first = line.indexOf(' ');
    const second = line.indexOf(' ', first + 1);
    if (first > 0 && wanted.has(line.slice(first + 1, second < 0 ? undefined : second))) kept.push(line);
  }
  return kept.length === 0 ? '' : `${kept.join('\n')}\n`;
}

/** Applies a restore script in one ipset process; -exist makes re-adding or re-creating harmless. */
export async function ipsetRestore(runner: ProcessRunner, script: string): Promise<void> {
  await runner('ipset', ['-exist', 'restore'], { input: script });
}
