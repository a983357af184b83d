/**
 * The broker's client configuration: a kubeconfig file, or Submariner's BROKER_K8S_* form (API
 * server, token, CA). The broker's certificate is always verified against the CA given. A
 * credential that does not load (unreadable token file, CA that is not a certificate) is not a
 * configuration error that stops the agent: the Secret behind it may be fixed while the node keeps
 * routing, so it is returned as a problem that refuses candidacy. Problems never quote the token.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import type { BrokerCredentials } from '../config.ts';
import { errorText } from '../model/error-text.ts';

export type BrokerKubeConfig = { ok: true; kubeConfig: KubeConfig } | { ok: false; problem: string };

const BROKER_CONTEXT = 'broker';

export async function loadBrokerKubeConfig(broker: BrokerCredentials): Promise<BrokerKubeConfig> {
  if (broker.kind === 'kubeconfig') {
    try {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(broker.path);
      if (!kubeConfig.getCurrentCluster()) return { ok: false, problem: `the broker kubeconfig ${broker.path} names no cluster in its current context` };
      return { ok: true, kubeConfig };
    } catch (error) {
      return { ok: false, problem: `the broker kubeconfig ${broker.path} does not load: ${errorText(error).split('\n')[0]}` };
    }
  }
  let token: string;
  if ('file' in broker.token) {
    try {
      token = (await readFile(broker.token.file, 'utf8')).trim();
    } catch (error) {
      return { ok: false, problem: `cannot read the broker token file ${broker.token.file}: ${(error as NodeJS.ErrnoException).code ?? errorText(error)}` };
    }
  } else {
    token = broker.token.value.trim();
  }
  if (token === '') return { ok: false, problem: 'the broker token is empty' };
  try {
    // Only to say clearly what is wrong with it: the client would fail every request otherwise.
    new X509Certificate(broker.caPem);
  } catch {
    return { ok: false, problem: 'the broker CA (BROKER_K8S_CA) is not a PEM certificate' };
  }
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: BROKER_CONTEXT, server: broker.server, caData: Buffer.from(broker.caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: BROKER_CONTEXT, token }],
    contexts: [{ name: BROKER_CONTEXT, cluster: BROKER_CONTEXT, user: BROKER_CONTEXT }],
    currentContext: BROKER_CONTEXT,
  });
  return { ok: true, kubeConfig };
}
