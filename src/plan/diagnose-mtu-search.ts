/**
 * The path MTU through a tunnel, found with DF-set ICMP echoes of chosen sizes (pure: the caller
 * sends each probe this asks for and feeds the outcome back). Sizes are whole IPv4 packets (ICMP
 * payload + 28).
 *
 * The first probe is the largest size the MSS clamp assumes fits: on a healthy path that one probe
 * settles it. Otherwise the smallest size, then a binary search between the largest size that got
 * an answer and the smallest that got none. A lost echo and a too-large one look alike, so a size
 * counts as too large only after `triesPerSize` silent tries; the number of probes is bounded
 * whatever happens. When ping reports an MTU (a "frag needed" from a router, or the local device's
 * limit), that size is tried next, which usually ends the search in two probes.
 */

export interface MtuSearchSettings {
  /** The smallest size tried; silence there means the tunnel does not answer at all. */
  min: number;
  /** The size assumed to fit: the cable device's MTU, or what a fixed MSS clamp implies. */
  max: number;
  triesPerSize: number;
  /** Most probes sent in all. */
  maxProbes: number;
}

export const DEFAULT_MTU_SEARCH: Omit<MtuSearchSettings, 'max'> = { min: 576, triesPerSize: 2, maxProbes: 20 };

export interface MtuSearchState {
  readonly settings: MtuSearchSettings;
  /** The largest size that got an answer. */
  readonly good: number | null;
  /** The smallest size that got none in every try. */
  readonly bad: number | null;
  /** The size being probed and how many of its tries went unanswered so far. */
  readonly current: { size: number; silent: number } | null;
  readonly probes: number;
  /** The MTU ping last reported, if any. */
  readonly hint: number | null;
}

export type MtuSearchEnd = 'max-fits' | 'converged' | 'unreachable' | 'budget';

export interface MtuSearchResult {
  /** The largest size that got an answer: the path MTU when `exact`, a lower bound otherwise; null when nothing answered. */
  pathMtu: number | null;
  /** The smallest size that got no answer (null when the largest assumed one did). */
  firstSilent: number | null;
  exact: boolean;
  probes: number;
  end: MtuSearchEnd;
}

export type MtuNext = { kind: 'probe'; size: number } | { kind: 'done'; result: MtuSearchResult };

/** Why the settings cannot be searched with, or null. */
export function mtuSearchProblem(s: MtuSearchSettings): string | null {
  if (![s.min, s.max, s.triesPerSize, s.maxProbes].every(Number.isInteger)) return 'every MTU search setting must be a whole number';
  if (s.min < 68) return `the smallest size ${s.min} is below IPv4's minimum MTU 68`;
  if (s.max > 65535) return `the largest size ${s.max} is above an IPv4 packet's 65535 bytes`;
  if (s.max < s.min) return `the largest size ${s.max} is below the smallest ${s.min}`;
  if (s.triesPerSize < 1) return 'at least one try per size';
  if (s.maxProbes < 2) return 'at least two probes (the largest and the smallest size)';
  return null;
}

export function startMtuSearch(settings: MtuSearchSettings): MtuSearchState {
  const problem = mtuSearchProblem(settings);
  if (problem) throw new RangeError(problem);
  return { settings, good: null, bad: null, current: { size: settings.max, silent: 0 }, probes: 0, hint: null };
}

function done(state: MtuSearchState, end: MtuSearchEnd): MtuNext {
  return {
    kind: 'done',
    result: { pathMtu: state.good, firstSilent: state.bad, exact: end === 'max-fits' || end === 'converged', probes: state.probes, end },
  };
}

/** The size to probe after `good` and `bad` are known: ping's hint when it lies between them, else the midpoint. */
function between(good: number, bad: number, hint: number | null): number {
  if (hint !== null && hint > good && hint < bad) return hint;
  if (hint !== null && hint === good && hint + 1 < bad) return hint + 1;
  return Math.floor((good + bad) / 2);
}

/** What to do now: send one probe of `size`, or stop with the result. */
export function nextMtuProbe(state: MtuSearchState): MtuNext {
  if (state.good !== null && state.good >= state.settings.max) return done(state, 'max-fits');
  if (state.good === null && state.bad !== null && state.bad <= state.settings.min) return done(state, 'unreachable');
  if (state.good !== null && state.bad !== null && state.bad - state.good <= 1) return done(state, 'converged');
  if (state.probes >= state.settings.maxProbes) return done(state, state.good === null ? 'unreachable' : 'budget');
  if (state.current === null) throw new Error('MTU search has no size to probe: the state was not made by startMtuSearch/recordMtuProbe');
  return { kind: 'probe', size: state.current.size };
}

/**
 * The outcome of the probe of `size` (an answer or silence), with the MTU ping reported if any. An
 * outcome for a size that is not the one asked for (a late answer) is ignored, so probes can never
 * move the bounds they did not measure.
 */
export function recordMtuProbe(state: MtuSearchState, size: number, answered: boolean, hint?: number): MtuSearchState {
  if (state.current === null || size !== state.current.size) return state;
  const probes = state.probes + 1;
  const newHint = hint !== undefined && Number.isInteger(hint) && hint >= 68 ? hint : state.hint;
  const { min } = state.settings;
  if (answered) {
    const good = Math.max(state.good ?? size, size);
    const next = state.bad === null ? null : { size: between(good, state.bad, newHint), silent: 0 };
    return { ...state, good, probes, hint: newHint, current: next };
  }
  const silent = state.current.silent + 1;
  // A router's "frag needed" (or the local device's limit) says the size does not fit: no need to try
  // again. A hint below a size that did get an answer is stale, and says nothing.
  const tooLarge = newHint !== null && newHint < size && (state.good === null || newHint >= state.good);
  if (silent < state.settings.triesPerSize && !tooLarge) return { ...state, probes, hint: newHint, current: { size, silent } };
  const bad = Math.min(state.bad ?? size, size);
  let next: number;
  if (state.good === null) next = bad <= min ? min : (newHint !== null && newHint >= min && newHint < bad ? newHint : min);
  else next = between(state.good, bad, newHint);
  return { ...state, bad, probes, hint: newHint, current: { size: next, silent: 0 } };
}
