/**
 * Gives glibc's free memory back to the kernel now and then (malloc_trim through the native addon,
 * native/malloc_trim.c). free() returns pages only from the top of the heap; the agent's memory
 * outside V8 (socket and TLS buffers, the JSON of watch events: hundreds a second when 5,000 kubelets
 * write status) fragments, and a live chunk near the top keeps every free page below it resident.
 * One call returned 5.5 MiB of the route agent's 49 MiB of anonymous memory at 5,000 Nodes and
 * 10,000 routes (called once from gdb). A call takes about 3 ms with 8 MiB free in 8,000 holes,
 * 0.03 ms with nothing to give back.
 */

/**
 * How often: under 500 Node status writes a second the heap fragments again within seconds. The
 * footprint bench's medians at 5,000 Nodes, 10,000 routes and those writes: 100.4 / 51.5 MiB
 * (VmRSS / RssAnon) trimming every 10 s, 98.3 / 49.6 every 2 s (one run each).
 */
export const MALLOC_TRIM_INTERVAL_MS = 2_000;

/** Trims every `intervalMs` without keeping the process alive for it; returns the stop. */
export function startMallocTrim(trim: () => boolean, intervalMs = MALLOC_TRIM_INTERVAL_MS): () => void {
  const timer = setInterval(() => { trim(); }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
