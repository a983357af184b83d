/**
 * strongSwan's charon under the daemon supervisor (daemon-supervisor.ts): its strongswan.conf
 * written before every start, its VICI socket as the sign it is ready, STRONGSWAN_CONF as the
 * marker that tells this supervisor's charon from any other (the system's strongSwan, another
 * agent's), and its detailed log levels at debug.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  DaemonStartError, DaemonSupervisor,
  type DaemonCommand, type DaemonExit, type DaemonStart, type DaemonSupervisorOptions, type SupervisorClock,
} from './daemon-supervisor.ts';

export type CharonCommand = DaemonCommand;
export type CharonStart = DaemonStart;
export type CharonExit = DaemonExit;
export type { SupervisorClock };
export { DaemonStartError as CharonStartError };

/** Writes no pid file, so one per network namespace can run on a machine that shares /run. */
export const CHARON_SYSTEMD_PATH = '/usr/sbin/charon-systemd';
/** Writes /run/charon.pid and refuses to run twice: only where the agent has a /run of its own. */
const CHARON_PATH = '/usr/lib/ipsec/charon';

export function defaultCharonCommand(exists: (path: string) => boolean = existsSync): CharonCommand {
  return { file: exists(CHARON_SYSTEMD_PATH) ? CHARON_SYSTEMD_PATH : CHARON_PATH, args: [] };
}

/** charon's stderr log with log_level = yes: thread, subsystem and level, as in `12[IKE1] ...`. */
const CHARON_LOG_LINE = /^\d+\[[A-Z]+(\d)\] /;

export interface CharonSupervisorOptions extends Omit<DaemonSupervisorOptions, 'identity' | 'command' | 'env' | 'files'> {
  /** The file's text (from strongswanConf); its VICI socket must be viciSocketPath. */
  conf: string;
  viciSocketPath: string;
  /** Default: defaultCharonCommand(). Tests wrap it, e.g. in `ip netns exec <ns>`. */
  command?: CharonCommand;
}

export class CharonSupervisor extends DaemonSupervisor {
  readonly confPath: string;

  constructor(options: CharonSupervisorOptions) {
    const confPath = join(options.stateDir, 'strongswan.conf');
    const { conf, viciSocketPath, command, ...rest } = options;
    super({
      ...rest,
      identity: {
        name: 'charon', pidKey: 'charonPid',
        // comm is cut at 15 characters; both names fit.
        comms: new Set(['charon', 'charon-systemd']),
        markerEnv: 'STRONGSWAN_CONF', markerValue: confPath,
        socketPath: viciSocketPath, socketName: 'VICI socket', pidFile: 'charon.pid',
        // charon's level 0 and 1 (control flow, errors) at info, its details (2, 3) at debug.
        isDetailLine: (line) => Number(CHARON_LOG_LINE.exec(line)?.[1] ?? 0) >= 2,
      },
      command: command ?? defaultCharonCommand(),
      files: [{ path: confPath, text: conf }],
    });
    this.confPath = confPath;
  }
}
