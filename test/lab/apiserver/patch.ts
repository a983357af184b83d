import { ApiError } from './status.ts';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const isObject = (v: unknown): v is Record<string, Json> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** RFC 7386 JSON merge patch: objects merge key by key, null deletes, anything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return structuredClone(patch);
  const result: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

/** 400: the patch document itself is malformed. */
const malformed = (message: string) => new ApiError(400, `invalid JSON patch: ${message}`);
/** 422: the patch is well formed but cannot be applied to this object. */
const unappliable = (message: string) => new ApiError(422, `the JSON patch could not be applied: ${message}`, 'Invalid');

function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string') throw malformed(`path ${JSON.stringify(pointer)} is not a string`);
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw malformed(`path "${pointer}" does not start with "/"`);
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(array: Json[], token: string, forInsert: boolean, path: string): number {
  if (forInsert && token === '-') return array.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw unappliable(`"${token}" is not an array index in "${path}"`);
  const index = Number(token);
  if (index > array.length || (!forInsert && index === array.length)) throw unappliable(`index ${index} out of range in "${path}"`);
  return index;
}

function getAt(doc: Json, tokens: string[], path: string): Json {
  let current = doc;
  for (const token of tokens) {
    if (Array.isArray(current)) current = current[arrayIndex(current, token, false, path)] as Json;
    else if (isObject(current) && Object.hasOwn(current, token)) current = current[token] as Json;
    else throw unappliable(`path "${path}" does not exist`);
  }
  return current;
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: Json; last: string } {
  if (tokens.length === 0) throw unappliable('the whole document cannot be the target here');
  return { parent: getAt(doc, tokens.slice(0, -1), path), last: tokens[tokens.length - 1] ?? '' };
}

function removeAt(doc: Json, tokens: string[], path: string): Json {
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, false, path), 1)[0] as Json;
  if (isObject(parent) && Object.hasOwn(parent, last)) {
    const value = parent[last] as Json;
    delete parent[last];
    return value;
  }
  throw unappliable(`path "${path}" does not exist`);
}

/** Returns the new document (the whole document is replaced when the path is ""). */
function addAt(doc: Json, tokens: string[], value: Json, path: string, replace: boolean): Json {
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) {
    const index = arrayIndex(parent, last, !replace, path);
    parent.splice(index, replace ? 1 : 0, value);
  } else if (isObject(parent)) {
    if (replace && !Object.hasOwn(parent, last)) throw unappliable(`path "${path}" does not exist`);
    parent[last] = value;
  } else {
    throw unappliable(`the parent of "${path}" is not an object or array`);
  }
  return doc;
}

/** Structural equality of JSON values (key order does not matter). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (!isObject(a) || !isObject(b)) return false;
  const keys = Object.keys(a).filter((k) => a[k] !== undefined);
  if (keys.length !== Object.keys(b).filter((k) => b[k] !== undefined).length) return false;
  return keys.every((k) => deepEqual(a[k], b[k]));
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test), applied to a copy of the document. */
export function jsonPatch(document: Json, operations: unknown): Json {
  if (!Array.isArray(operations)) throw malformed('the body must be a JSON array of operations');
  let doc = structuredClone(document);
  for (const [i, op] of operations.entries()) {
    if (!isObject(op)) throw malformed(`operation ${i} is not an object`);
    const path = op.path;
    const tokens = parsePointer(path);
    const needsValue = op.op === 'add' || op.op === 'replace' || op.op === 'test';
    if (needsValue && !Object.hasOwn(op, 'value')) throw malformed(`operation ${i} (${String(op.op)}) has no value`);
    const value = structuredClone(op.value ?? null);
    switch (op.op) {
      case 'add': doc = addAt(doc, tokens, value, String(path), false); break;
      case 'replace': doc = tokens.length === 0 ? value : addAt(doc, tokens, value, String(path), true); break;
      case 'remove': removeAt(doc, tokens, String(path)); break;
      case 'move': {
        const from = parsePointer(op.from);
        if (tokens.length > from.length && from.every((t, k) => tokens[k] === t)) throw unappliable('cannot move a value into itself');
        doc = addAt(doc, tokens, removeAt(doc, from, String(op.from)), String(path), false);
        break;
      }
      case 'copy': doc = addAt(doc, tokens, structuredClone(getAt(doc, parsePointer(op.from), String(op.from))), String(path), false); break;
      case 'test':
        if (!deepEqual(getAt(doc, tokens, String(path)), value)) throw unappliable(`test failed at "${String(path)}"`);
        break;
      default: throw malformed(`operation ${i} has unknown op ${JSON.stringify(op.op ?? null)}`);
    }
  }
  return doc;
}
