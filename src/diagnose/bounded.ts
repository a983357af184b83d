/**
 * Runs tasks with at most `limit` at once, in order of start, and returns every outcome (a task
 * that throws does not stop the others): diagnose's probes run concurrently but few at a time, so a
 * node with many remote clusters never sends a burst.
 */
export async function runBounded<T>(tasks: ReadonlyArray<() => Promise<T>>, limit: number): Promise<Array<PromiseSettledResult<T>>> {
  const results: Array<PromiseSettledResult<T>> = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await tasks[i]!() };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, tasks.length)) }, worker));
  return results;
}
