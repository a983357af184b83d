/** A kubeconfig for one lab API server (pure). JSON is valid YAML, so any client reads it. */
export function kubeconfig(name: string, server: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server } }],
    users: [{ name: `${name}-admin`, user: { token: 'seaway-lab' } }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin` } }],
    'current-context': name,
    preferences: {},
  };
}
