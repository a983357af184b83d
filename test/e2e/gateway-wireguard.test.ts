/** The gateway suite (gateway-suite.ts) with every gateway on WireGuard (wireguard-go: this kernel has no WireGuard). */
import { gatewaySuite } from './gateway-suite.ts';

gatewaySuite('wireguard', 'swgwg');
