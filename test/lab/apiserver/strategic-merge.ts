/**
 * Kubernetes' strategic merge patch (`application/strategic-merge-patch+json`) as kube-apiserver applies it to
 * built-in kinds: apimachinery's strategicpatch.StrategicMergeMapPatch, server side (MergeParallelList and
 * IgnoreUnmatchedNulls), read in apimachinery's patch.go (v1.32 behaviour: directives removed from values the
 * original lacks, nulls discarded from them, `$deleteFromPrimitiveList` whatever the field's strategy) and the
 * patch handler (handlers/patch.go) through the search tool; error texts checked against the strings linked
 * into the kubectl 1.32 on this machine. Pure: no I/O.
 *
 * - Maps merge key by key; a null deletes the key (a null for a key the original lacks is dropped).
 * - A list whose field has strategy `merge` merges element by element on its merge key (an element whose key
 *   matches is merged into the original one, recursively; others are added), or, for scalars, is a union.
 *   Every other list, and a map with strategy `replace`, is replaced by the patch's.
 * - Directives: `$patch: replace|delete` in a map (replace it with the rest of the patch map, or delete it),
 *   `{<key>: x, $patch: delete}` and `{$patch: replace}` as list elements, `$retainKeys` (keys of the
 *   original not listed are cleared), `$setElementOrder/<list>` (the merged list's order: listed elements
 *   in that order, the original's others interleaved by their original order), `$deleteFromPrimitiveList/<list>`.
 *
 * The order of the merged lists follows Go's algorithm step by step, its stable sort and the way Go slices
 * share their backing array included (a deletion followed by an addition in the same list shows through in
 * the order `$setElementOrder` is applied against), so kubectl's patches land in the order a real server gives.
 *
 * Errors carry the API server's codes: 400 for malformed `$retainKeys`, `$setElementOrder` and
 * `$deleteFromPrimitiveList` keys, 422 for a list of lists, and 500 (reason empty, as ErrorToAPIStatus answers
 * an error that is not a Status) for everything else the merge refuses, e.g. `map: map[image:y] does not contain
 * declared merge key: name` or `unknown patch type: x in map: map[$patch:x]`: the patch handler passes those
 * through unmapped.
 *
 * Not modelled: Go panics (comparing two maps, a null first list element) answer a JSON 500 here rather than
 * apiserver's text; 1 and 1.0 are the same number here (int64 and float64 differ in Go).
 */
import { goSprint } from './field-errors.ts';
import { isObject, type Json } from './patch.ts';
import { ApiError } from './status.ts';

type JsonMap = { [key: string]: Json };

/** A field's patch metadata: Go's patchStrategy (retainKeys split off) and patchMergeKey. */
export interface PatchMeta {
  strategy: '' | 'merge' | 'replace';
  retainKeys: boolean;
  mergeKey: string;
}

/**
 * What the merge needs to know of a value's type, as apimachinery's LookupPatchMeta gives it: the type and
 * patch metadata of a struct's field or a map's values (forMap), and of a list field's elements (forList).
 * Lookups throw (mergeError) what Go's lookups return for fields a type does not have.
 */
export interface PatchSchema {
  /** Go's reflect kind of the type ("struct", "map", ...), for the messages that name it. */
  readonly kind: string;
  forMap(key: string): { schema: PatchSchema; meta: PatchMeta };
  forList(key: string): { schema: PatchSchema; meta: PatchMeta };
}

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';
const SET_ELEMENT_ORDER = '$setElementOrder';
const LIST_TYPE = '[]interface {}';
const MAP_TYPE = 'map[string]interface {}';

/** An error the patch handler does not map to a Status: ErrorToAPIStatus makes it a 500 with an empty reason. */
export const mergeError = (message: string) => new ApiError(500, message, '');
/** interpretStrategicMergePatchError's 400s (mergepatch.ErrBadPatchFormatFor*). */
const badFormat = (what: string) => new ApiError(400, `invalid patch format of ${what}`);
/** ErrNoListOfLists: NewGenericServerResponse(422) keeps only its generic words. */
const listOfLists = () => new ApiError(422, 'the server rejected our request due to an error in our request', 'Invalid', {});
/** What apiserver answers when the merge panics (Go cannot compare two maps, a list starts with null). */
const panicked = () => new ApiError(500, 'This request caused apiserver to panic. Look in the logs for details.');

/** reflect.TypeOf as %s prints it. */
function goTypeName(value: Json | undefined): string {
  switch (goKind(value)) {
    case 'nil': return '%!s(<nil>)';
    case 'map': return MAP_TYPE;
    case 'slice': return LIST_TYPE;
    default: return goKind(value);
  }
}

/** The Go type a decoded JSON value has in a map[string]interface{}: what reflect.TypeOf compares. */
function goKind(value: Json | undefined): string {
  if (value === null || value === undefined) return 'nil';
  if (Array.isArray(value)) return 'slice';
  if (typeof value === 'object') return 'map';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int64' : 'float64';
  return typeof value === 'boolean' ? 'bool' : 'string';
}

const badArgType = (expected: string, actual: Json | undefined) => mergeError(`expected a ${expected}, but received a ${goTypeName(actual)}`);
const noMergeKey = (element: JsonMap, key: string) => mergeError(`map: ${goSprint(element)} does not contain declared merge key: ${key}`);

/** Go's == on two interface{} values: different dynamic types are unequal; two maps or two slices panic. */
function goEqual(a: Json | undefined, b: Json | undefined): boolean {
  const kind = goKind(a);
  if (kind !== goKind(b)) return false;
  if (kind === 'map' || kind === 'slice') throw panicked();
  return kind === 'nil' || a === b;
}

/** A value used as a Go map key (map[interface{}]...): maps and slices are unhashable (a panic). */
function hashable(value: Json): Json {
  if (isObject(value) || Array.isArray(value)) throw panicked();
  return value;
}

const contains = (list: Json[], value: Json) => list.some((item) => goEqual(hashable(item), hashable(value)));

/**
 * The object a strategic merge patch makes of `original`, and the patch as the merge leaves it (Go deletes the
 * directives it consumed from the patch maps, and the patch handler prints that map, `%+v`, in its errors).
 * Neither argument is modified.
 */
export function strategicMergePatch(original: JsonMap, patch: JsonMap, schema: PatchSchema): { object: JsonMap; patch: JsonMap } {
  const working = structuredClone(patch);
  return { object: mergeMap(structuredClone(original), working, schema), patch: working };
}

/** mergeMap: `original` is updated in place and returned (unless a `$patch` directive gives another map). */
function mergeMap(original: JsonMap, patch: JsonMap, schema: PatchSchema): JsonMap {
  if (Object.hasOwn(patch, DIRECTIVE)) return mapDirective(patch[DIRECTIVE] as Json, patch);
  applyRetainKeys(original, patch);
  mergeOrderedLists(original, patch, schema);
  for (const key of Object.keys(patch)) {
    const value = patch[key] as Json;
    const deleteList = key.startsWith(DELETE_FROM_PRIMITIVE_LIST);
    let field = key;
    if (deleteList) {
      const listKey = extractKey(key, DELETE_FROM_PRIMITIVE_LIST);
      if (listKey !== '') field = listKey;
    }
    if (value === null) {
      delete original[field];
      continue;
    }
    if (!Object.hasOwn(original, field)) {
      if (!deleteList) takeFromPatch(original, field, value);
      continue;
    }
    const current = original[field] as Json;
    if (goKind(current) !== goKind(value)) {
      if (!deleteList) takeFromPatch(original, field, value);
      continue;
    }
    if (isObject(current)) {
      const { schema: sub, meta } = schema.forMap(field);
      original[field] = meta.strategy === 'replace' ? value : mergeMap(current, value as JsonMap, sub);
    } else if (Array.isArray(current)) {
      const { schema: sub, meta } = schema.forList(field);
      original[field] = mergeList(current, value as Json[], sub, meta, deleteList);
    } else {
      takeFromPatch(original, field, value);
    }
  }
  return original;
}

/** handleDirectiveInMergeMap: `$patch` in a map replaces it with the rest of the patch map, or deletes it. */
function mapDirective(directive: Json, patch: JsonMap): JsonMap {
  if (directive === 'replace') {
    delete patch[DIRECTIVE];
    return patch;
  }
  if (directive === 'delete') return {};
  throw mergeError(`unknown patch type: ${goSprint(directive, 's')} in map: ${goSprint(patch)}`);
}

/** A patch value the original has no counterpart for: taken without its nulls and without maps carrying `$patch`. */
function takeFromPatch(original: JsonMap, field: string, value: Json): void {
  discardNulls(value);
  const [kept, keep] = withoutDirectives(value);
  if (keep) original[field] = kept;
  else delete original[field];
}

/** discardNullValuesFromPatch: null map values go, at any depth (in place). */
function discardNulls(value: Json): void {
  if (Array.isArray(value)) value.forEach(discardNulls);
  else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (child === null) delete value[key];
      else discardNulls(child);
    }
  }
}

/** removeDirectives: maps holding `$patch` are dropped (maps are edited in place, lists rebuilt); false: drop the value itself. */
function withoutDirectives(value: Json): [Json, boolean] {
  if (Array.isArray(value)) {
    const kept: Json[] = [];
    for (const item of value) {
      const [child, keep] = withoutDirectives(item);
      if (keep) kept.push(child);
    }
    return [kept, true];
  }
  if (!isObject(value)) return [value, true];
  if (Object.hasOwn(value, DIRECTIVE)) return [null, false];
  for (const [key, child] of Object.entries(value)) {
    const [kept, keep] = withoutDirectives(child);
    if (keep) value[key] = kept;
    else delete value[key];
  }
  return [value, true];
}

/** `$deleteFromPrimitiveList/x` → `x`; a key without the slash, or with another prefix, is a 400. */
function extractKey(key: string, prefix: string): string {
  const slash = key.indexOf('/');
  if (slash < 0 || key.slice(0, slash) !== prefix) {
    throw badFormat(prefix === DELETE_FROM_PRIMITIVE_LIST ? 'primitive list' : 'setElementOrder list');
  }
  return key.slice(slash + 1);
}

/** applyRetainKeysDirective: every key the patch sets must be listed; the original keeps only listed keys. */
function applyRetainKeys(original: JsonMap, patch: JsonMap): void {
  if (!Object.hasOwn(patch, RETAIN_KEYS)) return;
  const retained = patch[RETAIN_KEYS] as Json;
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retained)) throw badFormat('retainKeys');
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) || key.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!contains(retained, key)) throw badFormat('retainKeys');
  }
  for (const key of Object.keys(original)) {
    if (!contains(retained, key)) delete original[key];
  }
}

/** mergePatchIntoOriginal: the lists a `$setElementOrder/<list>` names are merged here, then put in its order. */
function mergeOrderedLists(original: JsonMap, patch: JsonMap, schema: PatchSchema): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key] as Json;
    delete patch[key];
    if (!Array.isArray(order)) throw badArgType(LIST_TYPE, order);
    const field = extractKey(key, SET_ELEMENT_ORDER);
    const foundOriginal = Object.hasOwn(original, field);
    const foundPatch = Object.hasOwn(patch, field);
    const originalList = original[field];
    const patchList = patch[field];
    if (foundOriginal && !Array.isArray(originalList)) throw badArgType(LIST_TYPE, originalList);
    if (foundPatch && !Array.isArray(patchList)) throw badArgType(LIST_TYPE, patchList);
    // Go's nil slices for what is absent; the original's list is the very array the merge edits in place.
    const originalItems = Array.isArray(originalList) ? originalList : [];
    const patchItems = Array.isArray(patchList) ? patchList : [];
    const { schema: sub, meta } = schema.forList(field);
    validateAgainstOrder(patchItems, order, meta.mergeKey);
    let merged: Json[];
    if (foundOriginal && foundPatch) merged = mergeList(originalItems, patchItems, sub, meta, false);
    else if (foundOriginal) merged = originalItems;
    else if (foundPatch) merged = withoutDirectives(patchItems)[0] as Json[];
    else continue;
    const [listed, serverOnly] = meta.mergeKey === '' ? partitionScalars(merged, order) : partitionMaps(merged, order, meta.mergeKey);
    const kind = elementKind([originalItems, patchItems]);
    original[field] = normalizeElementOrder(listed, serverOnly, order, originalItems, meta.mergeKey, kind);
    delete patch[field];
  }
}

/** validatePatchWithSetOrderList: the patch's elements (deletions and directives aside) appear in the order's order. */
function validateAgainstOrder(patchList: Json[], order: Json[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const kept = mergeKey !== '' ? splitDeletions(patchList)[0] : patchList;
  let p = 0;
  let o = 0;
  while (p < kept.length && o < order.length) {
    const item = kept[p] as Json;
    if (isObject(item) && Object.hasOwn(item, DIRECTIVE)) {
      p++;
      continue;
    }
    if (mergeKeyValueEqual(item, order[o] as Json, mergeKey)) p++;
    o++;
  }
  if (p < kept.length && o >= order.length) {
    throw mergeError(`The order in patch list:\n${goSprint(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goSprint(order)}\n`);
  }
}

function mergeKeyValueEqual(left: Json, right: Json, mergeKey: string): boolean {
  if (mergeKey === '') return goEqual(left, right);
  if (!isObject(left)) throw badArgType(MAP_TYPE, left);
  if (!isObject(right)) throw badArgType(MAP_TYPE, right);
  if (!Object.hasOwn(left, mergeKey)) throw noMergeKey(left, mergeKey);
  if (!Object.hasOwn(right, mergeKey)) throw noMergeKey(right, mergeKey);
  return goEqual(left[mergeKey], right[mergeKey]);
}

/** extractToDeleteItems: the elements that are not `$patch: delete`, and those that are. */
function splitDeletions(list: Json[]): [Json[], Json[]] {
  const kept: Json[] = [];
  const deleted: Json[] = [];
  for (const item of list) {
    if (!isObject(item)) throw badArgType(MAP_TYPE, item);
    if (Object.hasOwn(item, DIRECTIVE) && item[DIRECTIVE] === 'delete') deleted.push(item);
    else kept.push(item);
  }
  return [kept, deleted];
}

/** mergeSliceHandler: only lists with strategy merge (and deletion lists) merge; any other list is the patch's. */
function mergeList(original: Json[], patch: Json[], schema: PatchSchema, meta: PatchMeta, deleteList: boolean): Json[] {
  if (meta.strategy === 'merge' || deleteList) return mergeSlice(original, patch, schema, meta.mergeKey, deleteList);
  return patch;
}

/**
 * A Go slice over a backing array: appends within the backing array's length write into it (visible to whoever
 * holds the longer original slice, as in Go), beyond it they copy.
 */
interface GoSlice {
  backing: Json[];
  len: number;
}

const itemsOf = (slice: GoSlice) => slice.backing.slice(0, slice.len);

function append(slice: GoSlice, item: Json): GoSlice {
  if (slice.len < slice.backing.length) {
    slice.backing[slice.len] = item;
    return { backing: slice.backing, len: slice.len + 1 };
  }
  const backing = [...itemsOf(slice), item];
  return { backing, len: backing.length };
}

/** findMapInSliceBasedOnKeyValue: the index of the first map whose merge key has this value, or -1. */
function findByKey(slice: GoSlice, mergeKey: string, value: Json): number {
  for (let i = 0; i < slice.len; i++) {
    const item = slice.backing[i] as Json;
    if (!isObject(item)) throw mergeError(`value for key ${i} is not a map`);
    if (Object.hasOwn(item, mergeKey) && goEqual(item[mergeKey], value)) return i;
  }
  return -1;
}

/** mergeSlice: a merge list (its elements all of one type), then put in order (patch order, then original order). */
function mergeSlice(original: Json[], patch: Json[], schema: PatchSchema, mergeKey: string, deleteList: boolean): Json[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind([original, patch]);
  let merged: Json[];
  let serverOrder: Json[];
  let patchOrder: Json[];
  if (kind !== 'map') {
    if (deleteList) return original.filter((item) => !contains(patch, item));
    merged = deduplicateScalars([...original, ...patch]);
    serverOrder = original;
    patchOrder = patch;
  } else {
    if (mergeKey === '') throw mergeError(`cannot merge lists without merge key for ${schema.kind}`);
    const special = applySpecialElements(original, patch, mergeKey);
    merged = itemsOf(mergeByKey(special.server, special.patch, mergeKey, schema));
    serverOrder = itemsOf(special.server);
    patchOrder = special.patch;
  }
  const [listed, serverOnly] = mergeKey === '' ? partitionScalars(merged, patchOrder) : partitionMaps(merged, patchOrder, mergeKey);
  return normalizeElementOrder(listed, serverOnly, patchOrder, serverOrder, mergeKey, kind);
}

/**
 * mergeSliceWithSpecialElements: `{<key>: x, $patch: delete}` deletes x from the original (shifting the
 * original's backing array as Go's append does), `{$patch: replace}` makes the patch's other elements the list.
 */
function applySpecialElements(original: Json[], patch: Json[], mergeKey: string): { server: GoSlice; patch: Json[] } {
  let server: GoSlice = { backing: original, len: original.length };
  const plain: Json[] = [];
  let replace = false;
  for (const item of patch) {
    const element = item as JsonMap;
    if (!Object.hasOwn(element, DIRECTIVE)) {
      plain.push(item);
      continue;
    }
    const directive = element[DIRECTIVE] as Json;
    if (directive === 'delete') {
      if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
      for (let i = findByKey(server, mergeKey, element[mergeKey] as Json); i >= 0; i = findByKey(server, mergeKey, element[mergeKey] as Json)) {
        server.backing.copyWithin(i, i + 1, server.len);
        server = { backing: server.backing, len: server.len - 1 };
      }
    } else if (directive === 'replace') {
      replace = true;
    } else if (directive === 'merge') {
      throw mergeError('merging lists cannot yet be specified in the patch');
    } else {
      throw mergeError(`unknown patch type: ${goSprint(directive, 's')} in map: ${goSprint(element)}`);
    }
  }
  if (replace) return { server: { backing: plain, len: plain.length }, patch: [] };
  return { server, patch: plain };
}

/** mergeSliceWithoutSpecialElements: each patch element merges into the original's with its key, or is appended. */
function mergeByKey(server: GoSlice, patch: Json[], mergeKey: string, schema: PatchSchema): GoSlice {
  let out = server;
  for (const item of patch) {
    const element = item as JsonMap;
    if (!Object.hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
    const at = findByKey(out, mergeKey, element[mergeKey] as Json);
    if (at >= 0) out.backing[at] = mergeMap(out.backing[at] as JsonMap, element, schema);
    else out = append(out, item);
  }
  return out;
}

/** Go's deduplicateScalars, whose swaps reorder the list (the order is normalized afterwards). */
function deduplicateScalars(list: Json[]): Json[] {
  let last = list.length - 1;
  for (let i = 0; i < last; i++) {
    for (let j = i + 1; j <= last; j++) {
      if (goEqual(list[i], list[j])) {
        list[j] = list[last] as Json;
        list.length = last;
        last--;
        j--;
      }
    }
  }
  return list;
}

/** sliceElementType: the one Go type of the lists' elements ("map", "string", ...). */
function elementKind(lists: Json[][]): string {
  let previous: string | undefined;
  for (const list of lists) {
    for (const item of list) {
      const kind = goKind(item);
      if (previous === undefined) {
        if (kind === 'nil') throw panicked();
        if (kind === 'slice') throw listOfLists();
        previous = kind;
      } else if (kind !== previous) {
        throw mergeError(`list element types are not identical: ${goSprint(lists)}`);
      }
    }
  }
  if (previous === undefined) throw mergeError('no elements in any of the given slices');
  return previous;
}

/** partitionPrimitivesByPresentInList: [elements in `by`, the others], each in `list`'s order. */
function partitionScalars(list: Json[], by: Json[]): [Json[], Json[]] {
  const listed: Json[] = [];
  const others: Json[] = [];
  for (const item of list) (contains(by, item) ? listed : others).push(item);
  return [listed, others];
}

/** partitionMapsByPresentInList, by merge key. */
function partitionMaps(list: Json[], by: Json[], mergeKey: string): [Json[], Json[]] {
  const listed: Json[] = [];
  const others: Json[] = [];
  const slice = { backing: by, len: by.length };
  for (const item of list) {
    if (!isObject(item)) throw badArgType(MAP_TYPE, item);
    if (!Object.hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
    (findByKey(slice, mergeKey, item[mergeKey] as Json) >= 0 ? listed : others).push(item);
  }
  return [listed, others];
}

/** index(): where `value` is in `list` (by merge key for maps), or -1. */
function indexIn(list: Json[], value: Json, mergeKey: string, kind: string): number {
  const key = (item: Json): Json => (kind !== 'map' ? item : isObject(item) && Object.hasOwn(item, mergeKey) ? item[mergeKey] as Json : null);
  const wanted = key(value);
  return list.findIndex((item) => goEqual(wanted, key(item)));
}

/**
 * normalizeElementOrder: the patch's elements sorted by `patchOrder`, the original-only ones by `serverOrder`,
 * then interleaved by mergeSortedSlice.
 */
function normalizeElementOrder(listed: Json[], serverOnly: Json[], patchOrder: Json[], serverOrder: Json[], mergeKey: string, kind: string): Json[] {
  const fromPatch = normalizeSliceOrder(listed, patchOrder, mergeKey, kind);
  const fromServer = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  return mergeSortedSlice(fromServer, fromPatch, serverOrder, mergeKey, kind);
}

/** normalizeSliceOrder: sort.SliceStable by position in `order` (deletion elements moved last). */
function normalizeSliceOrder(toSort: Json[], order: Json[], mergeKey: string, kind: string): Json[] {
  let items = toSort;
  let deletions: Json[] = [];
  if (kind === 'map') {
    for (const list of [toSort, order]) {
      for (const item of list) {
        if (!isObject(item)) throw badArgType(MAP_TYPE, item);
        if (!Object.hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
      }
    }
    [items, deletions] = splitDeletions(toSort);
  }
  sortStable(items, (a, b) => {
    const i = indexIn(order, a, mergeKey, kind);
    if (i >= 0) {
      const j = indexIn(order, b, mergeKey, kind);
      if (j >= 0) return i < j;
    }
    // Not a strict order (Go's own comparator): the result is whatever Go's stable sort makes of it.
    return true;
  });
  return [...items, ...deletions];
}

/** mergeSortedSlice: left (original-only) elements go before a right (patch) element only when both are in `serverOrder` and earlier there. */
function mergeSortedSlice(left: Json[], right: Json[], serverOrder: Json[], mergeKey: string, kind: string): Json[] {
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) out.push(right[j++] as Json);
    else if (j >= right.length) out.push(left[i++] as Json);
    else {
      const li = indexIn(serverOrder, left[i] as Json, mergeKey, kind);
      const ri = indexIn(serverOrder, right[j] as Json, mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++] as Json);
      else out.push(right[j++] as Json);
    }
  }
  return out;
}

/**
 * Go's sort.SliceStable (insertion sort on blocks of 20, then SymMerge), in place. Reproduced step by step
 * because normalizeSliceOrder's comparator is not a strict order: another stable sort could order differently.
 */
export function sortStable<T>(items: T[], less: (a: T, b: T) => boolean): void {
  const lessAt = (i: number, j: number) => less(items[i] as T, items[j] as T);
  const swap = (i: number, j: number) => { [items[i], items[j]] = [items[j] as T, items[i] as T]; };
  const insertionSort = (a: number, b: number) => {
    for (let i = a + 1; i < b; i++) {
      for (let j = i; j > a && lessAt(j, j - 1); j--) swap(j, j - 1);
    }
  };
  const swapRange = (a: number, b: number, n: number) => {
    for (let i = 0; i < n; i++) swap(a + i, b + i);
  };
  const rotate = (a: number, m: number, b: number) => {
    let i = m - a;
    let j = b - m;
    while (i !== j) {
      if (i > j) {
        swapRange(m - i, m, j);
        i -= j;
      } else {
        swapRange(m - i, m + j - i, i);
        j -= i;
      }
    }
    swapRange(m - i, m, i);
  };
  const symMerge = (a: number, m: number, b: number): void => {
    if (m - a === 1) {
      let i = m;
      let j = b;
      while (i < j) {
        const h = (i + j) >>> 1;
        if (lessAt(h, a)) i = h + 1;
        else j = h;
      }
      for (let k = a; k < i - 1; k++) swap(k, k + 1);
      return;
    }
    if (b - m === 1) {
      let i = a;
      let j = m;
      while (i < j) {
        const h = (i + j) >>> 1;
        if (!lessAt(m, h)) i = h + 1;
        else j = h;
      }
      for (let k = m; k > i; k--) swap(k, k - 1);
      return;
    }
    const mid = (a + b) >>> 1;
    const n = mid + m;
    let start: number;
    let r: number;
    if (m > mid) {
      start = n - b;
      r = mid;
    } else {
      start = a;
      r = m;
    }
    const p = n - 1;
    while (start < r) {
      const c = (start + r) >>> 1;
      if (!lessAt(p - c, c)) start = c + 1;
      else r = c;
    }
    const end = n - start;
    if (start < m && m < end) rotate(start, m, end);
    if (a < start && start < mid) symMerge(a, start, mid);
    if (mid < end && end < b) symMerge(mid, end, b);
  };
  const n = items.length;
  let blockSize = 20;
  let a = 0;
  let b = blockSize;
  while (b <= n) {
    insertionSort(a, b);
    a = b;
    b += blockSize;
  }
  insertionSort(a, n);
  while (blockSize < n) {
    a = 0;
    b = 2 * blockSize;
    while (b <= n) {
      symMerge(a, a + blockSize, b);
      a = b;
      b += 2 * blockSize;
    }
    const m = a + blockSize;
    if (m < n) symMerge(a, m, n);
    blockSize *= 2;
  }
}
