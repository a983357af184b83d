/**
 * A kubeconfig for one lab API server (pure). JSON is valid YAML, so any client reads it.
 * `insecure-skip-tls-verify` because @kubernetes/client-node refuses plain-HTTP servers without it;
 * the lab has no TLS to verify.
 */
export function kubeconfig(name: string, server: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: `${name}-admin`, user: { token: 'seaway-lab' } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    'current-context': name,
    preferences: {},
  };
}
