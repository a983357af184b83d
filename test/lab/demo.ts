/**
 * The README's main command (`npm run demo`): brings up the lab (default sizes, agents when
 * src/main.ts exists), waits until every Node is Ready and every CNI is up, and shows per node
 * what happened. Takes the same flags as `npm run lab -- up`.
 */
import { existsSync } from 'node:fs';
import { AGENT_ENTRY } from './agents.ts';
import { parseLabArgs, USAGE } from './cli-args.ts';
import { httpGetUnix } from './http-unix.ts';
import { run } from '../../src/kernel/exec.ts';
import { labUp, waitForLab } from './lab.ts';
import type { LabStatus, NodeStatus } from './state.ts';
import { waitFor } from './processes.ts';
import { datapathReport } from './demo-datapath.ts';
import { captureReport, gatewaysReport, runsGateways, startDemoCapture, waitForTunnels } from './demo-gateways.ts';

const AGENT_READY_TIMEOUT_MS = 30_000;

async function agentReadiness(node: NodeStatus): Promise<string> {
  if (!node.agent) return 'no agent';
  const socket = node.agent.socket;
  try {
    // The agent turns ready shortly after its node's CNI: wait for that, but not forever.
    return await waitFor(`${node.name} agent ready`, async () => {
      const response = await httpGetUnix(socket, '/readyz').catch(() => undefined);
      return response?.status === 200 ? 'agent ready' : undefined;
    }, AGENT_READY_TIMEOUT_MS, 100);
  } catch {
    const response = await httpGetUnix(socket, '/readyz').catch((error: Error) => ({ status: 0, body: error.message }));
    return `agent NOT ready (${response.status} ${response.body.trim()}; log ${node.agent.log})`;
  }
}

function seconds(from: string, to: string | null): string {
  return to === null ? 'never' : `${((Date.parse(to) - Date.parse(from)) / 1000).toFixed(1)} s`;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseLabArgs(['up', ...argv]);
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n${USAGE.replaceAll('npm run lab -- up', 'npm run demo --')}\n`);
    return 2;
  }
  if (parsed.command !== 'up') return 2;
  const options = parsed.options;
  if (options.agents && !existsSync(AGENT_ENTRY)) {
    process.stdout.write(`(${AGENT_ENTRY} does not exist yet: bringing the lab up without agents)\n`);
    options.agents = false;
  }
  process.stdout.write(`bringing up lab ${options.prefix} ...\n`);
  const started = Date.now();
  // Installed from manifests/ (the default): also until each node's kubelet runs its agents.
  await labUp({ ...options, wait: true });
  const status: LabStatus = await waitForLab(options.prefix);
  process.stdout.write(`lab ${status.prefix} up in ${((Date.now() - started) / 1000).toFixed(1)} s; broker ${status.broker.url}\n`);
  for (const cluster of status.clusters) {
    process.stdout.write(`\n${cluster.id}  pods ${cluster.podCidr}  services ${cluster.serviceCidr}  KUBECONFIG=${cluster.kubeconfig}\n`);
    const lines = await Promise.all(cluster.nodes.map(async (node) => {
      const role = node.gatewayCapable ? 'gateway-capable' : 'worker';
      const cni = node.cniAt ? `${node.cniInterface} ${node.cniIp} after ${seconds(status.createdAt, node.cniAt)}` : 'no CNI';
      return `  ${node.name.padEnd(16)} ${node.ip.padEnd(14)} ${role.padEnd(15)} ${node.gateway ? 'seaway gateway running, ' : ''}Ready after ${seconds(status.createdAt, node.readyAt)}, CNI ${cni}, ${await agentReadiness(node)}`;
    }));
    process.stdout.write(`${lines.join('\n')}\n`);
    if (options.deploy === 'manifests' && options.agents) {
      // Installed as an operator installs it: what the cluster's kubectl shows.
      const kubectl = (args: string[]) => run('kubectl', ['--kubeconfig', cluster.kubeconfig, ...args, '-n', 'submariner-operator'], { timeoutMs: 30_000, allowFailure: true });
      // The readiness probes run every few seconds: show the table once they have (or after 30 s).
      await waitFor(`${cluster.id}: seaway's pods Ready`, async () => {
        const { items } = JSON.parse((await kubectl(['get', 'pods', '-o', 'json'])).stdout || '{"items":[]}') as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> };
        return items.length > 0 && items.every((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
      }, 30_000, 250).catch(() => undefined);
      const listed = await kubectl(['get', 'pods', '-o', 'wide']);
      process.stdout.write(`  $ kubectl get pods -n submariner-operator -o wide\n${`${listed.stdout}${listed.stderr}`.trimEnd().replace(/^/gm, '  ')}\n`);
    }
    for (const pod of cluster.pods) process.stdout.write(`    pod ${pod.name} ${pod.ip}  (shell: ip netns exec ${pod.namespace} bash)\n`);
  }
  let traffic = true;
  const write = (text: string) => process.stdout.write(text);
  if (options.agents && runsGateways(status)) {
    // Connected by seaway's gateways: wait for the tunnels, then watch the WAN while the pods talk.
    write('\nwaiting for the gateways to elect, publish through the broker and connect ...\n');
    const tunnels = await waitForTunnels(status);
    if (!tunnels) write('the tunnels did not come up within 60 s (see the gateway logs in npm run lab -- status)\n');
    const capture = await startDemoCapture(status);
    let clear = true;
    try {
      traffic = await datapathReport(status, write);
    } finally {
      clear = await captureReport(status, capture, write);
    }
    await gatewaysReport(status, write);
    traffic &&= tunnels && clear;
  } else if (options.agents) {
    traffic = await datapathReport(status, write);
  }
  process.stdout.write(`\nmore: npm run lab -- status --prefix ${status.prefix} [--json]\ntear down: npm run lab -- down --prefix ${status.prefix}\n`);
  return traffic ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`demo: ${error.message}\n`);
    process.exit(1);
  },
);
