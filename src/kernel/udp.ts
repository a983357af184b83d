/**
 * UDP for NAT discovery: the socket it answers and asks on (node:dgram, behind the small interface
 * the driver uses, so units can fake it), and the kernel's choice of source address for a target.
 */
import { createSocket } from 'node:dgram';

/** The part of a node:dgram socket the driver uses (a fake in unit tests). */
export interface DatagramSocket {
  on(event: 'message', listener: (message: Buffer, remote: { address: string; port: number }) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  bind(port: number, address: string | undefined, callback: () => void): unknown;
  send(message: Buffer, port: number, address: string, callback: (error: Error | null) => void): unknown;
  close(callback: () => void): unknown;
}

export const udp4Socket = (): DatagramSocket => createSocket('udp4');

/**
 * The address the kernel's route to `targetIp` leaves from (a connected UDP socket sends nothing;
 * connecting only looks the route up), '' when there is no route. Submariner puts the same in using_src.
 */
export function routeSourceIp(targetIp: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    let settled = false;
    const done = (ip: string) => {
      if (settled) return;
      settled = true;
      socket.close();
      resolve(ip);
    };
    socket.on('error', () => done(''));
    socket.connect(port, targetIp, (error?: Error) => {
      if (error) return done('');
      try { done(socket.address().address); } catch { done(''); }
    });
  });
}
