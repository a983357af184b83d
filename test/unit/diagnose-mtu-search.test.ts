import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MTU_SEARCH, mtuSearchProblem, nextMtuProbe, recordMtuProbe, startMtuSearch, type MtuSearchResult, type MtuSearchSettings } from '../../src/plan/diagnose-mtu-search.ts';

/** Runs a search against a path: `answers(size, attempt)` says whether that probe got a reply, `hint` what ping reported. */
function search(settings: MtuSearchSettings, answers: (size: number, attempt: number) => boolean, hint?: (size: number) => number | undefined): { result: MtuSearchResult; sizes: number[] } {
  let state = startMtuSearch(settings);
  const sizes: number[] = [];
  const tries = new Map<number, number>();
  for (let guard = 0; guard < 1000; guard++) {
    const next = nextMtuProbe(state);
    if (next.kind === 'done') return { result: next.result, sizes };
    sizes.push(next.size);
    const attempt = (tries.get(next.size) ?? 0) + 1;
    tries.set(next.size, attempt);
    state = recordMtuProbe(state, next.size, answers(next.size, attempt), hint?.(next.size));
  }
  throw new Error('the search did not end');
}

const S = (max: number, over: Partial<MtuSearchSettings> = {}): MtuSearchSettings => ({ ...DEFAULT_MTU_SEARCH, max, ...over });
const path = (mtu: number) => (size: number) => size <= mtu;

test('a path that carries the assumed size is settled by one probe', () => {
  assert.deepEqual(search(S(1500), path(9000)), { result: { pathMtu: 1500, firstSilent: null, exact: true, probes: 1, end: 'max-fits' }, sizes: [1500] });
});

test('a narrower path is found exactly by binary search, each silent size tried twice, within the probe budget', () => {
  const { result, sizes } = search(S(1500), path(1337));
  assert.equal(result.pathMtu, 1337);
  assert.equal(result.firstSilent, 1338);
  assert.equal(result.exact, true);
  assert.equal(result.end, 'converged');
  assert.ok(result.probes <= DEFAULT_MTU_SEARCH.maxProbes, `${result.probes} probes`);
  assert.deepEqual(sizes.slice(0, 4), [1500, 1500, 576, 1038], 'the largest twice, then the smallest, then the midpoint');
});

test('ping\'s MTU report ("frag needed") is tried next: three probes find the hop', () => {
  const { result, sizes } = search(S(1500), path(1300), (size) => (size > 1300 ? 1300 : undefined));
  assert.deepEqual(sizes, [1500, 1300, 1301]);
  assert.deepEqual(result, { pathMtu: 1300, firstSilent: 1301, exact: true, probes: 3, end: 'converged' });
});

test('a single lost echo is not taken for a size that does not fit', () => {
  // The first try of 1500 is lost, the second answered.
  const { result } = search(S(1500), (size, attempt) => size <= 1500 && attempt > 1);
  assert.deepEqual(result, { pathMtu: 1500, firstSilent: null, exact: true, probes: 2, end: 'max-fits' });
});

test('a tunnel that answers nothing ends after the largest and the smallest size, with no MTU', () => {
  const { result, sizes } = search(S(1500), () => false);
  assert.deepEqual(sizes, [1500, 1500, 576, 576]);
  assert.deepEqual(result, { pathMtu: null, firstSilent: 576, exact: false, probes: 4, end: 'unreachable' });
});

test('the probe budget bounds the search on a lossy path: the answer is then a range, not exact', () => {
  // Every size answers only on its second try: each step costs two probes.
  const { result } = search(S(9000, { maxProbes: 8 }), (size, attempt) => size <= 4000 && attempt % 2 === 0);
  assert.equal(result.end, 'budget');
  assert.equal(result.exact, false);
  assert.equal(result.probes, 8);
  assert.ok(result.pathMtu !== null && result.pathMtu <= 4000 && result.firstSilent !== null && result.firstSilent > 4000, JSON.stringify(result));
});

test('a stale hint below a size that got an answer does not cut the tries of a larger size', () => {
  // ping keeps reporting 600 (an old cached PMTU), yet 1400 answers: 1450 gets its two tries.
  const { result } = search(S(1500), (size, attempt) => size <= 1400 || (size <= 1460 && attempt === 2), () => 600);
  assert.equal(result.pathMtu, 1460);
  assert.equal(result.exact, true);
});

test('outcomes of another size than the one asked for are ignored', () => {
  const state = startMtuSearch(S(1500));
  assert.equal(recordMtuProbe(state, 1400, true), state);
  assert.deepEqual(nextMtuProbe(state), { kind: 'probe', size: 1500 });
});

test('settings that cannot be searched with are refused with the reason', () => {
  assert.match(mtuSearchProblem(S(1500, { min: 20 })) ?? '', /below IPv4's minimum MTU 68/);
  assert.match(mtuSearchProblem(S(70000)) ?? '', /above an IPv4 packet/);
  assert.match(mtuSearchProblem(S(500)) ?? '', /below the smallest 576/);
  assert.match(mtuSearchProblem(S(1500, { triesPerSize: 0 })) ?? '', /at least one try/);
  assert.match(mtuSearchProblem(S(1500, { maxProbes: 1 })) ?? '', /at least two probes/);
  assert.match(mtuSearchProblem(S(1500.5)) ?? '', /whole number/);
  assert.throws(() => startMtuSearch(S(500)), RangeError);
  assert.equal(mtuSearchProblem(S(576)), null, 'largest equal to smallest is fine');
  assert.deepEqual(search(S(576), path(1500)).result.end, 'max-fits');
});
