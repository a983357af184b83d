import { join } from 'node:path';
import { CA_CERT_FILE } from './tls.ts';

/** Where every lab keeps its files: one directory per prefix under this root. */
export const DEFAULT_LAB_ROOT = '/tmp/seaway-lab';

/** Set in the environment of every process a lab starts, so `down` can recognise them. */
export const LAB_DIR_ENV = 'SEAWAY_LAB_DIR';

export interface ServerPaths {
  dir: string;
  /** Plain HTTP, for the lab's own tools (the admin identity). */
  socket: string;
  /** HTTPS with the lab CA's certificate: what the root namespace's loopback forwarder reaches. */
  tlsSocket: string;
  log: string;
  /** For use from the root namespace (the loopback forwarder). */
  kubeconfig: string;
  /** A cluster's route agents', from inside the lab's namespaces (the LAN address): their service account's token. */
  agentKubeconfig: string;
  /** A cluster's gateway's, from inside the lab: the gateway service account's token. */
  gatewayKubeconfig: string;
  /** A cluster's credentials on the broker (the broker's WAN address, the token of its `cluster-<id>` account there). */
  brokerKubeconfig: string;
}

export interface NodePaths {
  dir: string;
  agentLog: string;
  agentSocket: string;
  gatewayLog: string;
  gatewaySocket: string;
  /** The gateway's own state directory (charon's configuration and VICI socket). */
  gatewayStateDir: string;
}

export interface LabPaths {
  root: string;
  dir: string;
  state: string;
  progress: string;
  pids: string;
  controllerLog: string;
  /** The lab CA's certificate: what a client outside the lab's kubeconfigs must trust (NODE_EXTRA_CA_CERTS, curl --cacert). */
  caCert: string;
  /** The IPsec PSK every cluster's gateways share (as Submariner's broker hands one to every cluster), 0600. */
  psk: string;
  server(id: string): ServerPaths;
  node(name: string): NodePaths;
  pidFile(name: string): string;
}

export function labPaths(prefix: string, root = DEFAULT_LAB_ROOT): LabPaths {
  const dir = join(root, prefix);
  return {
    root,
    dir,
    state: join(dir, 'state.json'),
    progress: join(dir, 'progress.json'),
    pids: join(dir, 'pids'),
    controllerLog: join(dir, 'controller.log'),
    caCert: join(dir, CA_CERT_FILE),
    psk: join(dir, 'ipsec-psk'),
    server(id) {
      const serverDir = join(dir, id);
      return {
        dir: serverDir,
        socket: join(serverDir, 'apiserver.sock'),
        tlsSocket: join(serverDir, 'apiserver-tls.sock'),
        log: join(serverDir, 'apiserver.log'),
        kubeconfig: join(serverDir, 'kubeconfig'),
        agentKubeconfig: join(serverDir, 'kubeconfig.agent'),
        gatewayKubeconfig: join(serverDir, 'kubeconfig.gateway'),
        brokerKubeconfig: join(serverDir, 'kubeconfig.broker'),
      };
    },
    node(name) {
      const nodeDir = join(dir, name);
      return {
        dir: nodeDir, agentLog: join(nodeDir, 'agent.log'), agentSocket: join(nodeDir, 'agent.sock'),
        gatewayLog: join(nodeDir, 'gateway.log'), gatewaySocket: join(nodeDir, 'gateway.sock'), gatewayStateDir: join(nodeDir, 'gateway-state'),
      };
    },
    pidFile: (name) => join(dir, 'pids', `${name}.pid`),
  };
}
