import { nodeSpawner, type Spawner } from './spawner.ts';

/** Deadline of a process when the caller names none: generous for iptables-restore of a large ruleset, short of liveness. */
export const DEFAULT_EXEC_TIMEOUT_MS = 30_000;
/** After SIGKILL, how long to wait for the exit before settling anyway (a process in uninterruptible sleep). */
const KILL_GRACE_MS = 1000;

export interface ExecResult {
  /** The exit code; 128 for a process ended by a signal, which `signal` then names. */
  code: number;
  stdout: string;
  stderr: string;
  signal?: NodeJS.Signals;
}

export interface ExecOptions {
  /** Written to the child's standard input, then closed. */
  input?: string;
  /** Resolve instead of rejecting when the exit code is not 0. */
  allowFailure?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Working directory of the child (default: this process's). */
  cwd?: string;
  signal?: AbortSignal;
  /** Deadline in ms (default DEFAULT_EXEC_TIMEOUT_MS); past it the child gets SIGKILL and run rejects with ExecTimeoutError. */
  timeoutMs?: number;
  /**
   * Called once the child's standard input is closed: `input` written whole, or, at the latest,
   * just before run settles (then the child may not have read it: it exited first, was killed at
   * the deadline, or never started). A restore reads its input to the end before it acts, and
   * closing the pipe takes this thread's event loop a turn or two: a caller about to keep the
   * thread busy (encoding 10,000 set members) waits for this first, or the child waits for its end
   * of file as long. Called exactly once per run that got as far as spawning.
   */
  onInputClosed?: () => void;
  /** How the process is started (default: Node's child_process; the agent passes the addon's posix_spawn). */
  spawner?: Spawner;
}

export class ExecError extends Error {
  readonly result: ExecResult;
  readonly argv: readonly string[];
  constructor(argv: readonly string[], result: ExecResult) {
    // A signal says more than its 128: a process killed from outside prints nothing of its own.
    const ending = result.signal === undefined ? `exited ${result.code}` : `was killed by ${result.signal}`;
    super(`${argv.join(' ')} ${ending}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'ExecError';
    this.argv = argv;
    this.result = result;
  }
}

/** A process that outlived its deadline (and was killed), or whose output stayed open past it. */
export class ExecTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  readonly argv: readonly string[];
  readonly timeoutMs: number;
  readonly pid: number | undefined;
  constructor(argv: readonly string[], timeoutMs: number, pid: number | undefined, detail: string) {
    super(`${argv.join(' ')} ${detail} after ${timeoutMs} ms`);
    this.name = 'ExecTimeoutError';
    this.argv = argv;
    this.timeoutMs = timeoutMs;
    this.pid = pid;
  }
}

/**
 * Runs a program with an argument array (never a shell string) and collects its output. Every
 * process has a deadline: a hung iptables-restore (xtables lock, a stuck kernel call) must fail
 * the pass, not stop the loop from turning.
 */
export function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const argv = [file, ...args];
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return Promise.reject(new RangeError(`exec timeoutMs must be a positive finite number, got ${timeoutMs}`));
  return new Promise((resolve, reject) => {
    const child = (options.spawner ?? nodeSpawner)(file, args, { env: options.env ?? process.env, cwd: options.cwd, signal: options.signal });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let settled = false;
    let grace: NodeJS.Timeout | undefined;
    let inputClosed = false;
    const closeInput = () => {
      if (inputClosed) return;
      inputClosed = true;
      options.onInputClosed?.();
    };
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(grace);
      // A descendant may still hold our pipes open: stop reading so nothing keeps the promise's handles alive.
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.stdin?.destroy();
      try {
        closeInput();
      } finally {
        action();
      }
    };
    const timedOut = (detail: string) => settle(() => reject(new ExecTimeoutError(argv, timeoutMs, child.pid, detail)));
    const deadline = setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) {
        timedOut('exited, but its output was still held open by a descendant');
        return;
      }
      child.kill('SIGKILL');
      // Settle on the exit, not on 'close': a grandchild holding stdout would delay 'close' forever.
      child.once('exit', () => timedOut('was killed (SIGKILL): no exit'));
      grace = setTimeout(() => timedOut('did not exit after SIGKILL'), KILL_GRACE_MS);
    }, timeoutMs);
    child.on('error', (error) => settle(() => reject(error)));
    // A spawn refused for want of file descriptors (EMFILE, ENFILE) made no pipes: its 'error' comes next.
    if (!child.stdin || !child.stdout || !child.stderr) return;
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin.on('error', () => { /* the child may exit before reading its input; its exit code tells */ });
    child.stdin.once('close', closeInput);
    child.on('close', (code, signal) => {
      const result: ExecResult = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ...(code === null && signal !== null ? { signal } : {}),
      };
      settle(() => {
        if (result.code !== 0 && !options.allowFailure) reject(new ExecError(argv, result));
        else resolve(result);
      });
    });
    child.stdin.end(options.input ?? '');
  });
}
