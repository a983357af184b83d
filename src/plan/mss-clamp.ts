import type { MssClamp } from '../model/desired-state.ts';

export const MSS_CLAMP_ANNOTATION = 'submariner.io/tcp-clamp-mss';

/** Linux refuses an MSS below TCP_MIN_MSS (88); IPv4 cannot carry more than 65535 - 40. */
const MIN_MSS = 88;
const MAX_MSS = 65495;

/** Reads the Node annotation; absent means clamp to PMTU, invalid means PMTU plus a problem to report. */
export function mssClampFromAnnotations(annotations: Readonly<Record<string, string>> | undefined): { clamp: MssClamp; problem: string | null } {
  const value = annotations?.[MSS_CLAMP_ANNOTATION];
  if (value === undefined) return { clamp: { mode: 'pmtu' }, problem: null };
  const text = value.trim();
  if (/^[1-9][0-9]{0,4}$/.test(text)) {
    const mss = Number(text);
    if (mss >= MIN_MSS && mss <= MAX_MSS) return { clamp: { mode: 'fixed', mss }, problem: null };
  }
  const shown = value.length > 32 ? `${value.slice(0, 32)}...` : value;
  return {
    clamp: { mode: 'pmtu' },
    problem: `annotation ${MSS_CLAMP_ANNOTATION}="${shown}" is not a whole number from ${MIN_MSS} to ${MAX_MSS}; clamping to the path MTU instead`,
  };
}
