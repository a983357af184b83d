import type { LabStatus } from './state.ts';

function since(start: string, time: string | null): string {
  if (time === null) return 'not yet';
  return `+${((Date.parse(time) - Date.parse(start)) / 1000).toFixed(1)} s`;
}

/** A readable summary of a lab (pure). */
export function formatStatus(status: LabStatus): string {
  const o = status.options;
  const lines = [
    `lab ${status.prefix} (${status.dir}), up since ${status.createdAt}`,
    `  ${o.clusters} cluster(s) x ${o.nodes} node(s), ${o.podsPerNode} pod(s) per node; Ready after ${o.nodeReadyDelay} s; ` +
      `CNI ${o.cniDelay === null ? 'never comes' : `${o.cniInterface} ${o.cniDelay} s after Ready`}`,
    `  broker: ${status.broker.url} in ${status.broker.namespace} (from here: ${status.broker.localUrl ?? 'forwarder not running'})`,
  ];
  for (const cluster of status.clusters) {
    lines.push(
      '',
      `${cluster.id}: pods ${cluster.podCidr}, services ${cluster.serviceCidr}, LAN ${cluster.lanCidr}` +
        (cluster.nat ? `; gateways behind NAT ${cluster.nat.publicIp} [${cluster.nat.namespace}], segment ${cluster.nat.segmentCidr}` : ''),
      `  API server ${cluster.apiserver.url} in ${cluster.apiserver.namespace}; from here ${cluster.apiserver.localUrl ?? '(forwarder not running)'}`,
      `  KUBECONFIG=${cluster.kubeconfig}`,
    );
    for (const node of cluster.nodes) {
      const role = !node.gatewayCapable ? 'worker'
        : node.publicIp !== null && node.publicIp !== node.wanIp ? `gateway-capable, behind NAT ${node.publicIp} (eth1 ${node.wanIp})` : `gateway-capable, WAN ${node.wanIp}`;
      const cni = node.cniAt ? `${node.cniInterface} ${node.cniIp} at ${since(status.createdAt, node.cniAt)}` : `${node.cniInterface} not yet`;
      const agent = node.agent ? `; agent pid ${node.agent.pid} ${node.agent.healthUrl} log ${node.agent.log}` : '';
      lines.push(`  ${node.name} [${node.namespace}] ${node.ip} pods ${node.podCidr} (${role}): Ready ${since(status.createdAt, node.readyAt)}, CNI ${cni}${agent}`);
    }
    for (const pod of cluster.pods) lines.push(`    pod ${pod.name} [${pod.namespace}] ${pod.ip} on ${pod.node}`);
  }
  if (status.controllerRunning === false) lines.push('', `the lab controller (pid ${status.controller.pid}) is not running: no forwarders, kubelet or CNI; recreate the lab with up`);
  if (status.controllerErrors.length > 0) lines.push('', 'controller errors (a failed CNI is not retried; the rest are):', ...status.controllerErrors.map((error) => `  ${error}`));
  return `${lines.join('\n')}\n`;
}
