/** The gateway suite (gateway-suite.ts) with every gateway on VXLAN (unencrypted). */
import { gatewaySuite } from './gateway-suite.ts';

gatewaySuite('vxlan', 'swgwv');
