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
