import { execFileSync } from 'node:child_process';

const packageOf: Record<string, string> = {
  ip: 'iproute2', bridge: 'iproute2', iptables: 'iptables', 'iptables-legacy': 'iptables',
  'iptables-restore': 'iptables', 'iptables-save': 'iptables', nft: 'nftables', ipset: 'ipset',
  ping: 'iputils-ping', swanctl: 'strongswan-swanctl', 'wireguard-go': 'wireguard-go', wg: 'wireguard-tools',
  promtool: 'prometheus', tcpdump: 'tcpdump',
  sysctl: 'procps', iperf3: 'iperf3', certutil: 'libnss3-tools', 'charon-systemd': 'charon-systemd',
};

/** Fails (never skips) with a message naming what to install when a prerequisite is missing. */
export function requireTools(...tools: string[]): void {
  if (process.getuid?.() !== 0) throw new Error('this test needs root (it creates network namespaces); run it as root via npm test');
  const missing = tools.filter((tool) => {
    try { execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }); return false; } catch { return true; }
  });
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => packageOf[t] ?? t))].join(' ');
    throw new Error(`missing ${missing.join(', ')}: install with apt-get install --no-install-recommends ${pkgs} (or run npm run bootstrap)`);
  }
}
