import type { CoreV1Event } from '@kubernetes/client-node';
import type { ApiSend } from './api-request.ts';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../telemetry/logger.ts';
import { errorText } from '../model/error-text.ts';

/** The object an Event is about. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
  uid: string;
  resourceVersion: string;
}

export interface EventRecorder {
  /** Posts a Warning Event on the object; never throws, failures are logged. */
  warning(object: InvolvedObject, reason: string, message: string): void;
  /**
   * Resolves once every Event posted so far has been written or has failed (tests and shutdown);
   * never later than the post timeout after the last post, whatever the API server does.
   */
  flush(): Promise<void>;
}

/** An Event is diagnostics: not worth holding a shutdown longer than this. */
export const EVENT_POST_TIMEOUT_MS = 10_000;

export interface EventRecorderOptions {
  /** source.component and reportingComponent. */
  component: string;
  /** This node: source.host and reportingInstance. */
  host: string;
  logger: Logger;
  onError?: () => void;
  /** Deadline of each post (default EVENT_POST_TIMEOUT_MS); past it the request is aborted and the failure logged. */
  timeoutMs?: number;
  /** The client's User-Agent (default `seaway`). */
  userAgent?: string;
}

/** A core v1 Event as kubectl describe shows it (pure). */
export function eventBody(object: InvolvedObject, reason: string, message: string, options: Pick<EventRecorderOptions, 'component' | 'host'>, now: Date, suffix: string): CoreV1Event {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    // The API server's own convention: <object>.<unique suffix>.
    metadata: { name: `${object.name}.${suffix}`, namespace: object.namespace },
    involvedObject: { ...object },
    reason,
    // Event messages are limited to 1 KiB by the API server.
    message: message.length > 1024 ? `${message.slice(0, 1021)}...` : message,
    type: 'Warning',
    source: { component: options.component, host: options.host },
    reportingComponent: options.component,
    reportingInstance: options.host,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
}

/** Posts each Event with its own deadline (the send's: apiRequest's also bounds the credentials). */
export function createEventRecorder(send: ApiSend, options: EventRecorderOptions): EventRecorder {
  const pending = new Set<Promise<void>>();
  const timeoutMs = options.timeoutMs ?? EVENT_POST_TIMEOUT_MS;
  const userAgent = options.userAgent ?? 'seaway';
  return {
    warning(object, reason, message) {
      const body = eventBody(object, reason, message, options, new Date(), randomBytes(8).toString('hex'));
      const write: Promise<void> = send({ method: 'POST', path: `/api/v1/namespaces/${encodeURIComponent(object.namespace)}/events`, body },
        // Events have no caller to cancel them: only their own deadline ends a post.
        { userAgent, timeoutMs, what: 'posting an Event' })
        .then(() => undefined, (error: unknown) => {
          options.onError?.();
          options.logger.warn({ err: errorText(error), object: `${object.namespace}/${object.name}`, reason }, 'could not post Kubernetes Event');
        })
        .finally(() => { pending.delete(write); });
      pending.add(write);
    },
    async flush() {
      await Promise.all([...pending]);
    },
  };
}
