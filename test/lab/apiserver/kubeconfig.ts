/**
 * A kubeconfig for a plain-HTTP lab API server. @kubernetes/client-node 2.0.1 refuses `http://` servers
 * unless the cluster sets `insecure-skip-tls-verify: true` ("HTTP protocol is not allowed when skipTLSVerify
 * is not set or false", KubeConfig.createDispatcherOptions), so this sets it; there is no TLS to skip.
 * Plain JSON is valid YAML, so the text can be written to a file and loaded with `KUBECONFIG`.
 */
export function kubeconfigFor(serverUrl: string, name = 'seaway-lab', namespace?: string): string {
  const context: Record<string, string> = { cluster: name, user: name };
  if (namespace) context.namespace = namespace;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: serverUrl, 'insecure-skip-tls-verify': true } }],
    users: [{ name, user: {} }],
    contexts: [{ name, context }],
    'current-context': name,
  }, null, 2);
}
