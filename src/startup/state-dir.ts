import { access, constants, mkdir } from 'node:fs/promises';

export const STATE_DIR = 'state-dir';

/**
 * Creates the state directory and checks that it is writable: mkdir succeeds on an existing
 * directory of a read-only mount, and the routing dataplane must be able to record the sysctl
 * values it replaces before it changes them.
 */
export async function prepareStateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await access(path, constants.W_OK | constants.X_OK);
}
