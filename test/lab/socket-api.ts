/**
 * The lab's own controllers (kubelets, the DaemonSet controller) talk to an API server as its
 * administrator, through its plain unix socket: JSON in, JSON out, an error with the status otherwise.
 */
import { httpUnix } from './http-unix.ts';

export class SocketApiError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'SocketApiError';
    this.status = status;
  }
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }>;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
}

export interface ApiObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export class SocketApi {
  readonly socketPath: string;
  constructor(socketPath: string) {
    this.socketPath = socketPath;
  }

  async #request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    const response = await httpUnix(this.socketPath, path, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': contentType }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: 10_000,
    });
    if (response.status >= 300) {
      throw new SocketApiError(`${method} ${path}: HTTP ${response.status} ${response.body.slice(0, 300)}`, response.status);
    }
    return JSON.parse(response.body) as T;
  }

  async list<T extends ApiObject>(path: string, query: Record<string, string> = {}): Promise<T[]> {
    const search = new URLSearchParams(query).toString();
    return (await this.#request<{ items: T[] }>('GET', search ? `${path}?${search}` : path)).items;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends ApiObject>(path: string): Promise<T | undefined> {
    try {
      return await this.#request<T>('GET', path);
    } catch (error) {
      if (error instanceof SocketApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  create<T extends ApiObject>(path: string, object: unknown): Promise<T> {
    return this.#request<T>('POST', path, object);
  }

  mergePatch<T extends ApiObject>(path: string, patch: unknown): Promise<T> {
    return this.#request<T>('PATCH', path, patch, 'application/merge-patch+json');
  }

  /** Deletes the object (with DeleteOptions, e.g. gracePeriodSeconds); one already gone is no error. */
  async delete(path: string, options?: Record<string, unknown>): Promise<void> {
    try {
      await this.#request('DELETE', path, options === undefined ? undefined : { apiVersion: 'v1', kind: 'DeleteOptions', ...options });
    } catch (error) {
      if (!(error instanceof SocketApiError && error.status === 404)) throw error;
    }
  }
}
