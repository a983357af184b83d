import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { component: 'seaway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Kubeconfig contents, tokens and keys must never reach the log, whatever an error carries.
      redact: { paths: ['token', '*.token', 'password', '*.password', 'psk', '*.psk', 'privateKey', '*.privateKey'], censor: '[redacted]' },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
