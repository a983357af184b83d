import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const DEFAULT_ROOT = '/proc/sys';

/**
 * Keys are paths below /proc/sys with '/' separators, e.g. "net/ipv4/conf/vxlan.calico/rp_filter".
 * The slash form is the only one that works for interface names containing dots: in the dotted
 * form of sysctl(8) the dot is a separator.
 */
export function sysctlPath(key: string, root = DEFAULT_ROOT): string {
  const segments = key.split('/');
  if (key.length === 0 || segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\0'))) {
    throw new Error(`invalid sysctl key ${JSON.stringify(key)}: expected a relative path below ${root} such as net/ipv4/ip_forward`);
  }
  return join(root, ...segments);
}

export interface Sysctls {
  /** The current value, trimmed; undefined when the key does not exist (e.g. the interface is gone). */
  read(key: string): Promise<string | undefined>;
  write(key: string, value: string): Promise<void>;
}

/** Sysctls of the calling process's network namespace (the /proc/sys view is per netns for net/*). */
export function procSysctls(root = DEFAULT_ROOT): Sysctls {
  return {
    async read(key) {
      try {
        return (await readFile(sysctlPath(key, root), 'utf8')).trim();
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async write(key, value) {
      try {
        await writeFile(sysctlPath(key, root), `${value}\n`);
      } catch (error) {
        throw new Error(`sysctl ${key}=${value}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
      }
    },
  };
}
