/** The gateway suite (gateway-suite.ts) with every gateway on IPsec (strongSwan's charon with kernel-libipsec). */
import { gatewaySuite } from './gateway-suite.ts';

gatewaySuite('ipsec', 'swgw');
