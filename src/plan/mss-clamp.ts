import type { MssClamp } from '../model/desired-state.ts';

export const MSS_CLAMP_ANNOTATION = 'submariner.io/tcp-clamp-mss';

/**
 * The MSS a fixed clamp may set, shared by the annotation and the packet filter's validation.
 * 48 is the smallest MSS a Linux sender honours: since 5.2 it raises any smaller advertised MSS to
 * net.ipv4.tcp_min_snd_mss (default TCP_MIN_SND_MSS, 48), so a clamp below it would silently not
 * apply. (88, TCP_MIN_MSS, bounds only a socket's own TCP_MAXSEG setsockopt, which a SYN rewritten
 * by TCPMSS or nft never passes through.) 65495: IPv4 cannot carry more than 65535 - 40 bytes.
 */
export const MIN_MSS = 48;
export const MAX_MSS = 65495;

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
