import { loadIcmpAddon } from '../../src/kernel/icmp-socket.ts';
import { nodeSpawner, posixSpawner, type Spawner } from '../../src/kernel/spawner.ts';

/**
 * Both ways kernel/exec's run starts a process: Node's child_process, and the native addon's
 * posix_spawn the agent uses (loading it throws, saying how to build it, when it is not built).
 */
export const SPAWNERS: readonly { name: 'child_process' | 'posix_spawn'; spawner: Spawner }[] = [
  { name: 'child_process', spawner: nodeSpawner },
  { name: 'posix_spawn', spawner: posixSpawner(loadIcmpAddon()) },
];
