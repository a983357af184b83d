import type { ProcessRunner } from './iptables.ts';

/** `nft -j list table`, or null when the table does not exist. */
export async function nftListTable(runner: ProcessRunner, family: string, table: string): Promise<string | null> {
  const result = await runner('nft', ['-j', 'list', 'table', family, table], { allowFailure: true });
  if (result.code === 0) return result.stdout;
  if (/No such file or directory/i.test(result.stderr)) return null;
  throw new Error(`nft list table ${family} ${table} exited ${result.code}: ${result.stderr.trim()}`);
}

/** Applies a script as one nft transaction: all of it or nothing. */
export async function nftApply(runner: ProcessRunner, script: string): Promise<void> {
  await runner('nft', ['-f', '-'], { input: script });
}

/** Tables in the ruleset as "family name", e.g. "ip filter". */
export async function nftListTables(runner: ProcessRunner): Promise<string[]> {
  const result = await runner('nft', ['list', 'tables'], { allowFailure: true });
  if (result.code !== 0) return [];
  return result.stdout.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('table ')).map((l) => l.slice(6));
}
