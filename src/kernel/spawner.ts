import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';

/**
 * What kernel/exec's run needs of a started process. Node's ChildProcess is one; posixSpawner's
 * children are the other, and behave the same: 'error' when nothing started (stdio then null),
 * 'exit' once reaped, 'close' once reaped and its output read to the end.
 */
export interface SpawnedProcess {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly exitCode: number | null;
  readonly signalCode: NodeJS.Signals | null;
  kill(signal: NodeJS.Signals): boolean;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
}

export interface SpawnOptions {
  /** The child's whole environment; its PATH is where a file without a slash is looked for. */
  env: NodeJS.ProcessEnv;
  cwd?: string | undefined;
  /** Aborting it kills the child (SIGKILL) and fails the spawn with an AbortError. */
  signal?: AbortSignal | undefined;
}

/** Starts `file` with `args` (never a shell), its standard input, output and error as pipes. */
export type Spawner = (file: string, args: readonly string[], options: SpawnOptions) => SpawnedProcess;

/** Node's child_process: forks this process, then execs (libuv on Linux). */
export const nodeSpawner: Spawner = (file, args, options) => spawn(file, args, {
  stdio: ['pipe', 'pipe', 'pipe'], env: options.env, cwd: options.cwd, signal: options.signal, killSignal: 'SIGKILL',
});

/** The native addon's calls (native/posix_spawn.c). */
export interface SpawnAddon {
  /** Starts the child with posix_spawn; [pid, stdin, stdout, stderr] (this process's pipe ends). Throws with the errno's code. */
  spawn(file: string, args: readonly string[], env: readonly string[], path: string | null, cwd: string | null): number[];
  /** undefined while the child runs, else [code, signal]: code -1 when signal (a number) ended it; [-1, 0] when not a child. */
  reap(pid: number): number[] | undefined;
}

/** Where SIGCHLD is listened for: the process, or a test's stand-in. */
export interface ChildSignals {
  on(event: 'SIGCHLD', listener: () => void): unknown;
  off(event: 'SIGCHLD', listener: () => void): unknown;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, number]) => [number, name as NodeJS.Signals]),
);

/**
 * Spawns with glibc's posix_spawn through the addon: the child shares this process's memory until
 * it execs (CLONE_VFORK), where Node's spawn forks it. For the agent's 100 MiB that fork costs its
 * thread 5-12 ms, and copy-on-write faults on each page written afterwards; posix_spawn about 0.6 ms.
 * Children are reaped when SIGCHLD arrives (listened for only while one runs, and from before it
 * starts, so an early exit is not missed): each running child is asked, without blocking.
 */
export function posixSpawner(addon: SpawnAddon, signals: ChildSignals = process): Spawner {
  const running = new Set<PosixChild>();
  const onChildSignal = () => {
    for (const child of running) child.poll();
  };
  const finished = (child: PosixChild) => {
    running.delete(child);
    if (running.size === 0) signals.off('SIGCHLD', onChildSignal);
  };
  return (file, args, options) => {
    if (running.size === 0) signals.on('SIGCHLD', onChildSignal);
    const child = new PosixChild(addon, file, args, options, finished);
    if (child.pid !== undefined) running.add(child);
    else if (running.size === 0) signals.off('SIGCHLD', onChildSignal);
    return child;
  };
}

class PosixChild extends EventEmitter implements SpawnedProcess {
  readonly pid: number | undefined;
  readonly stdin: Socket | null = null;
  readonly stdout: Socket | null = null;
  readonly stderr: Socket | null = null;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  #exited = false;
  #openOutputs = 2;
  readonly #addon: SpawnAddon;
  readonly #signal: AbortSignal | undefined;
  readonly #finished: (child: PosixChild) => void;
  readonly #onAbort = () => {
    this.kill('SIGKILL');
    this.emit('error', abortError(this.#signal?.reason));
  };

  constructor(addon: SpawnAddon, file: string, args: readonly string[], options: SpawnOptions, finished: (child: PosixChild) => void) {
    super();
    this.#addon = addon;
    this.#signal = options.signal;
    this.#finished = finished;
    // As Node's spawn: a NUL cannot be passed to exec, and would cut the argument short in C.
    for (const text of [file, ...args, options.cwd ?? '']) {
      if (text.includes('\0')) throw new TypeError(`spawn ${file}: an argument holds a NUL byte`);
    }
    const env: string[] = [];
    for (const [name, value] of Object.entries(options.env)) {
      if (value === undefined) continue;
      if (name.includes('\0') || value.includes('\0')) throw new TypeError(`spawn ${file}: environment variable ${name} holds a NUL byte`);
      env.push(`${name}=${value}`);
    }
    if (options.signal?.aborted) {
      process.nextTick(() => this.emit('error', abortError(options.signal?.reason)));
      return;
    }
    let fds: number[];
    try {
      fds = addon.spawn(file, args, env, options.env.PATH ?? null, options.cwd ?? null);
    } catch (error) {
      process.nextTick(() => this.emit('error', error));
      return;
    }
    const [pid, stdin, stdout, stderr] = fds as [number, number, number, number];
    this.pid = pid;
    this.stdin = new Socket({ fd: stdin, readable: false, writable: true });
    this.stdout = new Socket({ fd: stdout, readable: true, writable: false });
    this.stderr = new Socket({ fd: stderr, readable: true, writable: false });
    for (const output of [this.stdout, this.stderr]) output.once('close', () => { this.#openOutputs--; this.#maybeClose(); });
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Reaps the child if it has exited; called on each SIGCHLD. */
  poll(): void {
    if (this.#exited || this.pid === undefined) return;
    const status = this.#addon.reap(this.pid);
    if (status === undefined) return;
    const [code, signal] = status as [number, number];
    this.#exited = true;
    this.exitCode = code >= 0 ? code : null;
    this.signalCode = code < 0 && signal > 0 ? (SIGNAL_NAMES.get(signal) ?? null) : null;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#finished(this);
    this.emit('exit', this.exitCode, this.signalCode);
    this.#maybeClose();
  }

  kill(signal: NodeJS.Signals): boolean {
    // Until it is reaped the pid stays this child's (a zombie keeps it), so no other process is hit.
    if (this.#exited || this.pid === undefined) return false;
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  #maybeClose(): void {
    if (this.#exited && this.#openOutputs === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}

/** Node's own error for an aborted spawn: name AbortError, code ABORT_ERR. */
function abortError(reason: unknown): Error {
  return Object.assign(new Error('The operation was aborted', { cause: reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}
