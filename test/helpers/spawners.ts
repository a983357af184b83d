import { loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';
import { nodeSpawner, posixSpawner, type Spawner } from '../../src/kernel/spawner.ts';

let posix: Spawner | undefined;

/**
 * Both ways kernel/exec's run starts a process: Node's child_process, and the native addon's
 * posix_spawn the agent uses. The addon is loaded at the first posix_spawn: without a build, those
 * runs fail with the loader's error, which says how to build it, and the child_process ones still run.
 */
export const SPAWNERS: readonly { name: 'child_process' | 'posix_spawn'; spawner: Spawner }[] = [
  { name: 'child_process', spawner: nodeSpawner },
  { name: 'posix_spawn', spawner: (file, args, options) => (posix ??= posixSpawner(loadIcmpAddon()))(file, args, options) },
];
