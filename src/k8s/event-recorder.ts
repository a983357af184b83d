import { CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../telemetry/logger.ts';

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
  /** Resolves once every Event posted so far has been written or has failed (tests and shutdown). */
  flush(): Promise<void>;
}

export interface EventRecorderOptions {
  /** source.component and reportingComponent. */
  component: string;
  /** This node: source.host and reportingInstance. */
  host: string;
  logger: Logger;
  onError?: () => void;
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

export function createEventRecorder(kubeConfig: KubeConfig, options: EventRecorderOptions): EventRecorder {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const pending = new Set<Promise<void>>();
  return {
    warning(object, reason, message) {
      const body = eventBody(object, reason, message, options, new Date(), randomBytes(8).toString('hex'));
      const write: Promise<void> = core.createNamespacedEvent({ namespace: object.namespace, body })
        .then(() => undefined, (error: unknown) => {
          options.onError?.();
          options.logger.warn({ err: error instanceof Error ? error.message : String(error), object: `${object.namespace}/${object.name}`, reason }, 'could not post Kubernetes Event');
        })
        .finally(() => { pending.delete(write); });
      pending.add(write);
    },
    async flush() {
      await Promise.all([...pending]);
    },
  };
}
