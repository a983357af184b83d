/**
 * A kubeconfig for one lab API server (pure). JSON is valid YAML, so any client reads it. The
 * server is HTTPS with a certificate of the lab's CA, which the kubeconfig carries: clients verify
 * it as against a real cluster.
 */
export function kubeconfig(name: string, server: string, caPem: string, token: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
    preferences: {},
  };
}
