/**
 * The answer to a NAT discovery request, decided as Submariner's gateway decides it
 * (`pkg/natdiscovery/request_handle.go`), so a Submariner requester reads seaway's answers exactly
 * as it reads its own:
 *
 * - MALFORMED when the request lacks sender, receiver, using_src or using_dst;
 * - UNKNOWN_DST_CLUSTER / UNKNOWN_DST_ENDPOINT when the receiver is not this cluster / this cable;
 * - otherwise three flags: the source IP changed (using_src.IP given and not the datagram's source),
 *   the source port changed (using_src.port is not the datagram's source port), the destination IP
 *   changed (using_dst.IP is not this gateway's private IP: Submariner assumes it receives on the
 *   private IP, so a request sent to the public IP always reports NAT); NAT_DETECTED if any, else OK.
 *
 * Every answer carries the request number, this gateway as sender, the requester's sender as
 * receiver (absent when it sent none), and the source as received; `version` stays 0 as in
 * Submariner's responses. Addresses compare as text, as Submariner compares them.
 *
 * Where seaway differs, on purpose, it is around this decision, not in it: the driver
 * (cable/nat-discovery.ts) rate-limits requests before answering (Submariner answers every
 * datagram, which makes an unauthenticated UDP port on a public address a reflector), and it drops
 * datagrams that do not decode without an answer, as Submariner does (it logs them).
 */
import { ResponseType, type NatDiscoveryMessage, type NatDiscoveryRequest, type NatDiscoveryResponse } from '../model/nat-discovery-message.ts';

/** This gateway as its Endpoint says: the cluster, the cable name (the EndpointDetails' endpoint_id) and the private IP. */
export interface NatDiscoveryIdentity {
  clusterId: string;
  endpointId: string;
  privateIp: string;
}

/** Where the datagram came from, as the socket saw it. */
export interface DatagramSource {
  ip: string;
  port: number;
}

export function respondToNatDiscoveryRequest(request: NatDiscoveryRequest, source: DatagramSource, local: NatDiscoveryIdentity): NatDiscoveryMessage {
  const response: NatDiscoveryResponse = {
    requestNumber: request.requestNumber,
    response: ResponseType.OK,
    sender: { clusterId: local.clusterId, endpointId: local.endpointId },
    ...(request.sender ? { receiver: { ...request.sender } } : {}),
    srcIpNatDetected: false,
    srcPortNatDetected: false,
    dstIpNatDetected: false,
    receivedSrc: { ip: source.ip, port: source.port },
  };
  const answer = (fields: Partial<NatDiscoveryResponse>): NatDiscoveryMessage => ({ version: 0, response: { ...response, ...fields } });

  const { sender, receiver, usingSrc, usingDst } = request;
  if (!sender || !receiver || !usingSrc || !usingDst) return answer({ response: ResponseType.MALFORMED });
  if (receiver.clusterId !== local.clusterId) return answer({ response: ResponseType.UNKNOWN_DST_CLUSTER });
  if (receiver.endpointId !== local.endpointId) return answer({ response: ResponseType.UNKNOWN_DST_ENDPOINT });

  const srcIpNatDetected = usingSrc.ip !== '' && usingSrc.ip !== source.ip;
  const srcPortNatDetected = usingSrc.port !== source.port;
  const dstIpNatDetected = usingDst.ip !== local.privateIp;
  const nat = srcIpNatDetected || srcPortNatDetected || dstIpNatDetected;
  return answer({ response: nat ? ResponseType.NAT_DETECTED : ResponseType.OK, srcIpNatDetected, srcPortNatDetected, dstIpNatDetected });
}
