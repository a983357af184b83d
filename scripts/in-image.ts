/**
 * How to run a program of the image's exported root filesystem (build/image/rootfs) as a container
 * would, without a container runtime: chrooted, in a private mount namespace of its own, so every
 * mount it needs exists only there and disappears with its last process (also when it is killed).
 * The smoke test (scripts/image-smoke.ts) uses it; the lab's simulated kubelet can too.
 *
 * Inside that namespace the root filesystem is bound read-only (a pod's readOnlyRootFilesystem: the
 * program can neither depend on writing it nor change the exported image), /proc, /sys and /dev are
 * the caller's (rbind: inside `ip netns exec`, /sys is that namespace's), /run is an empty tmpfs, and
 * /tmp is a directory of the caller's choosing (the program's scratch and any file handed in).
 */

/**
 * Run by `sh -c` with the root filesystem, the scratch directory and the working directory as $0,
 * $1 and $2 and the program's argv after them: never interpolated into the text. `unshare --root
 * --wd` is chroot + chdir that execs the program, so it keeps the pid the caller spawned.
 */
export const IN_IMAGE_SCRIPT = [
  'set -e',
  'root=$0 scratch=$1 wd=$2',
  'shift 2',
  'mount --bind "$root" "$root"',
  'mount -o remount,bind,ro "$root"',
  'mount --rbind /proc "$root/proc"',
  'mount --rbind /sys "$root/sys"',
  'mount --rbind /dev "$root/dev"',
  'mount -t tmpfs -o mode=0755,size=16m seaway-image-run "$root/run"',
  'mount --bind "$scratch" "$root/tmp"',
  'exec unshare --root "$root" --wd "$wd" "$@"',
].join('\n');

export interface InImageOptions {
  /** The exported root filesystem, an absolute path. */
  rootfs: string;
  /** Bound at /tmp in the image, an absolute path. */
  scratch: string;
  /** Working directory inside the image (the image's WorkingDir), absolute. */
  workingDir: string;
}

/**
 * The argv (file first) that runs `argv` inside the image. The caller adds its own wrapper in front
 * (`ip netns exec NAME`) and passes the environment: the image's Env plus its own.
 */
export function inImageArgv(options: InImageOptions, argv: readonly string[]): string[] {
  for (const [name, path] of [['rootfs', options.rootfs], ['scratch', options.scratch], ['workingDir', options.workingDir]] as const) {
    if (!path.startsWith('/') || path.split('/').includes('..')) throw new Error(`${name} must be an absolute path without "..", got ${JSON.stringify(path)}`);
  }
  if (options.rootfs.replace(/\/+$/, '') === '') throw new Error('rootfs must not be the machine\'s own root');
  if (argv.length === 0 || argv[0] === '') throw new Error('no program to run in the image');
  return ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', IN_IMAGE_SCRIPT, options.rootfs, options.scratch, options.workingDir, ...argv];
}

/**
 * The environment a program in the image starts with: the image's Env (NAME=value entries, a later
 * one winning as in a container runtime), then the caller's additions.
 */
export function imageEnvironment(imageEnv: readonly string[], extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of imageEnv) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new Error(`image Env entry ${JSON.stringify(entry)} is not NAME=value`);
    env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return { ...env, ...extra };
}
