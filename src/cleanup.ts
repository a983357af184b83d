import type { Logger } from './telemetry/logger.ts';
import type { FilterBackend } from './config.ts';
import { openRtnetlink } from './kernel/rtnetlink.ts';
import { run as runProcess } from './kernel/exec.ts';
import { createFilterDriver } from './dataplane/filter.ts';
import { nodeRoutingDataplane } from './dataplane/routing-dataplane.ts';

/** Removes everything seaway owns on this node; needs no API server, never waits for one. */
export async function cleanup(backend: 'auto' | FilterBackend, stateDir: string, logger: Logger): Promise<number> {
  const rtnl = openRtnetlink();
  try {
    const routing = nodeRoutingDataplane(rtnl, stateDir);
    const routed = await routing.cleanup();
    const filter = await createFilterDriver(backend, { run: runProcess });
    const filtered = await filter.cleanup();
    for (const failure of routed.failures) logger.error({ kind: failure.kind, object: failure.object, code: failure.code }, 'could not remove');
    logger.info({ routingWrites: routed.writes, filterWrites: filtered.writes, failures: routed.failures.length }, 'cleanup finished');
    return routed.failures.length === 0 ? 0 : 1;
  } finally {
    rtnl.close();
  }
}

