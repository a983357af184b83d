/**
 * The API server's IPv4 addresses as this agent reaches it, for the cluster-wide rule that no remote
 * subnet may cover them: the host of the kubeconfig's server URL, and KUBERNETES_SERVICE_HOST (which
 * in-cluster configuration uses, and which kube-proxy-free setups point at the real API server).
 * Host names and IPv6 are left out: the planner judges IPv4 addresses without resolving anything.
 */
import { parseIpv4 } from './cidr.ts';

function ipv4OrNull(text: string | undefined): string | null {
  if (text === undefined) return null;
  const trimmed = text.trim();
  return parseIpv4(trimmed).ok ? trimmed : null;
}

/** The host of a server URL ("https://10.0.0.1:6443" -> "10.0.0.1"), or null when the URL is unreadable. */
export function serverHost(server: string): string | null {
  try {
    return new URL(server).hostname;
  } catch {
    return null;
  }
}

/** Sorted and without repeats, so equal inputs give equal configuration. */
export function apiServerAddresses(kubeconfigServer: string | undefined, env: Readonly<Record<string, string | undefined>>): string[] {
  const found = new Set<string>();
  const fromUrl = kubeconfigServer === undefined ? null : ipv4OrNull(serverHost(kubeconfigServer) ?? undefined);
  if (fromUrl !== null) found.add(fromUrl);
  const fromEnv = ipv4OrNull(env.KUBERNETES_SERVICE_HOST);
  if (fromEnv !== null) found.add(fromEnv);
  return [...found].sort();
}
