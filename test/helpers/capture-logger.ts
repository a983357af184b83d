import { pino } from 'pino';
import type { Logger } from '../../src/telemetry/logger.ts';

export interface LogLine extends Record<string, unknown> {
  level: number;
  msg: string;
}

/** A real pino logger at debug level that keeps its lines, parsed, so a test can read what was said. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line) as LogLine); } });
  return { logger, lines };
}
