import { constants } from 'node:os';

const errnoNames = new Map<number, string>(
  Object.entries(constants.errno).map(([name, value]) => [value, name] as [number, string]),
);

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `errno ${errno}`;
}

/** A kernel refusal of one netlink request: carries the errno name and the object it was about. */
export class NetlinkError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly object: string;
  constructor(errno: number, operation: string, object: string) {
    const code = errnoName(errno);
    super(`${operation} ${object}: ${code}`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = code;
    this.object = object;
  }
}
