import { KubeConfig } from '@kubernetes/client-node';

/** An explicit path wins; otherwise KUBECONFIG, ~/.kube/config, then the in-cluster service account. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (path) kubeConfig.loadFromFile(path);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}
