import type { ProcessRunner } from './iptables.ts';

/** `ipset save` of the named sets that exist, concatenated; missing sets are simply absent. */
export async function ipsetSave(runner: ProcessRunner, names: readonly string[]): Promise<string> {
  const parts = await Promise.all(names.map(async (name) => {
    let result;
    try {
      result = await runner('ipset', ['save', name], { allowFailure: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return ''; // no ipset tool: no sets to see
      throw error;
    }
    if (result.code === 0) return result.stdout;
    if (/does not exist/i.test(result.stderr)) return '';
    throw new Error(`ipset save ${name} exited ${result.code}: ${result.stderr.trim()}`);
  }));
  return parts.join('');
}

/** Applies a restore script in one ipset process; -exist makes re-adding or re-creating harmless. */
export async function ipsetRestore(runner: ProcessRunner, script: string): Promise<void> {
  await runner('ipset', ['-exist', 'restore'], { input: script });
}
