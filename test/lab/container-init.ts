/**
 * The lab's container runtime, for one container: started by the node's kubelet as
 * `unshare --mount --propagation private -- node container-init.ts <spec.json>` inside the node's
 * network namespace, it builds the container's filesystem in that private mount namespace (the image's
 * root filesystem under a writable overlay that dies with the container, /proc, /sys, /dev, a tmpfs
 * /run and /tmp, the pod's volumes; /proc/sys read-only unless privileged) and then replaces itself
 * with the container's process: chrooted, in the image's working directory, holding only the
 * capabilities its securityContext grants. Nothing is mounted in the machine's own mount namespace.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { ContainerLaunch } from './pod-spec.ts';

export interface ContainerInitSpec {
  /** The image's root filesystem (read-only lower layer). */
  rootfs: string;
  /** A directory of this container's own: the overlay's upper layer lives on a tmpfs mounted here. */
  scratch: string;
  launch: ContainerLaunch;
}

function mount(args: string[]): void {
  const result = spawnSync('mount', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
  if (result.status !== 0) throw new Error(`mount ${args.join(' ')}: ${result.stderr?.toString().trim() || `exit ${result.status}`}`);
}

/**
 * A path inside the root with the image's symlinks followed inside it: Debian's /var/run -> /run is
 * absolute, and the kernel, resolving it from outside the chroot, would land on the machine's /run.
 */
export function resolveInRoot(root: string, target: string): string {
  const pending = target.split('/').filter(Boolean);
  const resolved: string[] = [];
  for (let hops = 0; pending.length > 0;) {
    const part = pending.shift() as string;
    if (part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, part);
    let link: string | undefined;
    try {
      if (lstatSync(candidate).isSymbolicLink()) link = readlinkSync(candidate);
    } catch { /* absent: created below as a plain directory or file */ }
    if (link === undefined) {
      resolved.push(part);
      continue;
    }
    if (++hops > 40) throw new Error(`too many symbolic links resolving ${target} in ${root}`);
    if (link.startsWith('/')) resolved.length = 0;
    pending.unshift(...link.split('/').filter(Boolean));
  }
  return join(root, ...resolved);
}

/** The mount point inside the root, created (a file for a file mount) if the image lacks it. */
function mountPoint(root: string, target: string, file: boolean): string {
  const path = resolveInRoot(root, target);
  if (file) {
    mkdirSync(dirname(path), { recursive: true });
    if (!existsSync(path)) writeFileSync(path, '');
  } else {
    mkdirSync(path, { recursive: true });
  }
  return path;
}

export function prepareAndExec(spec: ContainerInitSpec): never {
  const { launch } = spec;
  mkdirSync(spec.scratch, { recursive: true });
  mount(['-t', 'tmpfs', '-o', 'mode=0700', 'container-layer', spec.scratch]);
  const upper = join(spec.scratch, 'upper');
  const work = join(spec.scratch, 'work');
  const root = join(spec.scratch, 'root');
  for (const dir of [upper, work, root]) mkdirSync(dir);
  mount(['-t', 'overlay', 'overlay', '-o', `lowerdir=${spec.rootfs},upperdir=${upper},workdir=${work}`, root]);

  mount(['-t', 'proc', 'proc', mountPoint(root, '/proc', false)]);
  // /sys as `ip netns exec` mounted it for the node's network namespace.
  mount(['--rbind', '/sys', mountPoint(root, '/sys', false)]);
  mount(['--rbind', '/dev', mountPoint(root, '/dev', false)]);
  mount(['-t', 'tmpfs', '-o', 'mode=0755', 'run', mountPoint(root, '/run', false)]);
  mount(['-t', 'tmpfs', '-o', 'mode=1777', 'tmp', mountPoint(root, '/tmp', false)]);
  for (const volume of launch.mounts) {
    const isFile = volume.file || (existsSync(volume.source) && statSync(volume.source).isFile());
    const target = mountPoint(root, volume.target, isFile);
    mount(['--bind', volume.source, target]);
    if (volume.readOnly) mount(['-o', 'remount,bind,ro', target]);
  }
  if (!launch.privileged) {
    // As container runtimes do: a non-privileged container cannot write the kernel's sysctls.
    const sys = resolveInRoot(root, '/proc/sys');
    mount(['--bind', sys, sys]);
    mount(['-o', 'remount,bind,ro', sys]);
  }
  if (launch.readOnlyRootFilesystem) mount(['-o', 'remount,bind,ro', root]);

  const inRoot: string[] = [];
  if (!launch.privileged) {
    const keep = launch.capabilities.map((name) => `+${name}`).join(',');
    inRoot.push('/usr/bin/setpriv', '--bounding-set', `-all${keep ? `,${keep}` : ''}`, '--inh-caps', '-all');
    if (launch.noNewPrivileges) inRoot.push('--no-new-privs');
    inRoot.push('--');
  }
  inRoot.push('/usr/bin/env', '-C', launch.workingDir, '--', ...launch.argv);
  const execve = process.execve;
  if (execve === undefined) throw new Error('process.execve needs Node 23.11 or later');
  execve('/usr/sbin/chroot', ['chroot', root, ...inRoot], launch.env);
  throw new Error('execve returned');
}

if (import.meta.main) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: container-init.ts <spec.json>\n');
    process.exit(2);
  }
  try {
    prepareAndExec(JSON.parse(readFileSync(file, 'utf8')) as ContainerInitSpec);
  } catch (error) {
    process.stderr.write(`container-init: ${(error as Error).message}\n`);
    process.exit(128);
  }
}
