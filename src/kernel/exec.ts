import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Written to the child's standard input, then closed. */
  input?: string;
  /** Resolve instead of rejecting when the exit code is not 0. */
  allowFailure?: boolean;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export class ExecError extends Error {
  readonly result: ExecResult;
  readonly argv: readonly string[];
  constructor(argv: readonly string[], result: ExecResult) {
    super(`${argv.join(' ')} exited ${result.code}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.name = 'ExecError';
    this.argv = argv;
    this.result = result;
  }
}

/** Runs a program with an argument array (never a shell string) and collects its output. */
export function run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      signal: options.signal,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.stdin.on('error', () => { /* the child may exit before reading its input; its exit code tells */ });
    child.on('close', (code, signal) => {
      const result: ExecResult = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (result.code !== 0 && !options.allowFailure) reject(new ExecError([file, ...args], result));
      else resolve(result);
    });
    child.stdin.end(options.input ?? '');
  });
}
