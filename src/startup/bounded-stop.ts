import { errorText } from '../model/error-text.ts';
/**
 * True when `work` settled within `ms`, false when the deadline came first (the work goes on,
 * unobserved). A stop that hangs (an API server that never answers, a kernel call that never
 * returns) must not keep a rollout waiting for the kubelet's SIGKILL.
 */
export async function settledWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let deadline: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work.then(() => true, () => true),
      new Promise<false>((resolve) => { deadline = setTimeout(() => resolve(false), ms); }),
    ]);
  } finally {
    clearTimeout(deadline);
  }
}

/** Runs the closers in reverse start order; one that fails is logged and the others still run. */
export async function runClosers(closers: ReadonlyArray<() => Promise<void> | void>, warn: (err: string) => void): Promise<void> {
  for (const close of [...closers].reverse()) {
    try {
      await close();
    } catch (error) {
      warn(errorText(error));
    }
  }
}
