/**
 * Writes this node's RouteAgent object (plan/route-agent-status.ts builds it) through the API
 * (an ApiSend): get, then create or replace (update) with the resourceVersion last
 * seen, in the Submariner namespace, keeping what others put in its metadata (status-object-writer.ts).
 * Those three verbs on routeagents are what manifests/02-rbac-route-agent.yaml grants the route agent.
 */
import type { ApiSend } from './api-request.ts';
import { ROUTE_AGENT_PLURAL, ROUTE_AGENT_WRITE_BUDGET, sameRouteAgentContent, type RouteAgentObject } from '../plan/route-agent-status.ts';
import {
  createStatusObjectWriter, createStatusPublisher, type PublisherOptions, type StatusObjectWriter, type StatusPublisher,
} from './status-object-writer.ts';

export interface RouteAgentWriterOptions {
  /** The Submariner namespace. */
  namespace: string;
  /** `seaway/<version>`; also the field manager. */
  userAgent?: string;
  /** Deadline of each request (default 5 s). */
  requestTimeoutMs?: number;
  now?: () => number;
}

export function createRouteAgentWriter(send: ApiSend, options: RouteAgentWriterOptions): StatusObjectWriter<RouteAgentObject> {
  return createStatusObjectWriter<RouteAgentObject>(send, { ...options, plural: ROUTE_AGENT_PLURAL, kind: 'RouteAgent' });
}

/**
 * The budget around a RouteAgent writer: ROUTE_AGENT_WRITE_BUDGET unless told otherwise; a change is
 * any difference but the RTT figures (sameRouteAgentContent), which go out with the refresh.
 */
export function createRouteAgentPublisher(
  writer: Pick<StatusObjectWriter<RouteAgentObject>, 'write'>, options: Partial<PublisherOptions> = {},
): StatusPublisher<RouteAgentObject> {
  return createStatusPublisher(writer, { ...ROUTE_AGENT_WRITE_BUDGET, ...options, same: sameRouteAgentContent });
}
