import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../config.ts';
import { KUBECONFIG_SETTING as SETTING, SERVICE_ACCOUNT_TOKEN } from './api-connection.ts';
/** What client-node's loadFromDefault makes of "no kubeconfig and no service account", and of a pod's service account. */
const FALLBACK_CONTEXT = 'loaded-context';
const FALLBACK_SERVER = 'http://localhost:8080';
const IN_CLUSTER_CONTEXT = 'inClusterContext';

/**
 * The kubeconfig is configuration: a file that is missing, unreadable or names no cluster, or no
 * file and no service account, can only be fixed by whoever deploys the agent, so it ends the process
 * (exit 2) with a ConfigError naming the setting, before anything touches the kernel or the API.
 * Without a path client-node would otherwise fall back to http://localhost:8080 and fail forever.
 */
export function loadKubeConfigChecked(path: string | null, env: Readonly<Record<string, string | undefined>>): KubeConfig {
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = new KubeConfig();
    // An explicit path wins; otherwise KUBECONFIG, ~/.kube/config, then the in-cluster service account.
    if (path) kubeConfig.loadFromFile(path);
    else kubeConfig.loadFromDefault();
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new ConfigError([path ? `${SETTING}: cannot load "${path}": ${reason}` : `${SETTING}: not set, and the default configuration failed to load: ${reason}`]);
  }
  const context = kubeConfig.getCurrentContext();
  const cluster = kubeConfig.getCurrentCluster();
  if (path === null && context === FALLBACK_CONTEXT && cluster?.server === FALLBACK_SERVER) {
    throw new ConfigError([`${SETTING}: not set, and there is neither a service account token at ${SERVICE_ACCOUNT_TOKEN} nor ~/.kube/config`]);
  }
  if (path === null && context === IN_CLUSTER_CONTEXT && (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT)) {
    throw new ConfigError([`${SETTING}: not set, and the in-cluster configuration needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, which are not set`]);
  }
  const where = path ? `"${path}"` : '~/.kube/config';
  if (!context) throw new ConfigError([`${SETTING}: ${where} has no current-context (is it a kubeconfig file?)`]);
  if (cluster === null) throw new ConfigError([`${SETTING}: ${where}: current-context "${context}" names no cluster in the file`]);
  return kubeConfig;
}
