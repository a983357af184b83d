import { errors } from './status.ts';
import { compareKeys, type KubeObject } from './store.ts';

/**
 * Paginated lists (limit and continue) as the API server serves them from etcd: every page of one
 * list shows the objects as they were at the first page's resourceVersion; the continue token says
 * that version and the last object returned. A token older than the retained history is 410.
 */

export interface ContinueToken {
  /** The first page's resourceVersion: the snapshot every page is read at. */
  rv: number;
  /** The last object returned: the next page starts after it. */
  start: [string, string];
}

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'lab/v1', rv: token.rv, start: token.start })).toString('base64url');
}

export function decodeContinue(text: string): ContinueToken {
  let value: { v?: unknown; rv?: unknown; start?: unknown };
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as typeof value;
  } catch {
    throw errors.badRequest(`continue key is not valid: "${text.slice(0, 64)}" is not a continue token`);
  }
  const start = value.start;
  if (value.v !== 'lab/v1' || typeof value.rv !== 'number' || !Number.isInteger(value.rv) || value.rv < 0
    || !Array.isArray(start) || start.length !== 2 || typeof start[0] !== 'string' || typeof start[1] !== 'string') {
    throw errors.badRequest('continue key is not valid: unrecognized fields');
  }
  return { rv: value.rv, start: [start[0], start[1]] };
}

export function limitParam(value: string | null): number | undefined {
  if (value === null || value === '' || value === '0') return undefined;
  if (!/^\d+$/.test(value)) throw errors.badRequest(`invalid limit "${value}": must be a non-negative integer`);
  return Number(value);
}

export interface Page {
  items: KubeObject[];
  continueToken: string | undefined;
  /** Objects after this page (only without selectors, as the API server reports it). */
  remainingItemCount: number | undefined;
}

/** One page of `items` (all objects at `rv`, filtered, in list order) after `start`. */
export function pageOf(items: readonly KubeObject[], rv: number, limit: number, start: [string, string] | undefined, selectors: boolean): Page {
  const key = (o: KubeObject): [string, string] => [o.metadata.namespace ?? '', o.metadata.name];
  const after = start === undefined ? items : items.filter((o) => compareKeys(key(o), start) > 0);
  const page = after.slice(0, limit);
  const remaining = after.length - page.length;
  const last = page.at(-1);
  return {
    items: page,
    continueToken: remaining > 0 && last ? encodeContinue({ rv, start: key(last) }) : undefined,
    remainingItemCount: remaining > 0 && !selectors ? remaining : undefined,
  };
}
