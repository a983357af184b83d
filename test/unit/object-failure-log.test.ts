import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { createObjectFailureLog } from '../../src/reconcile/object-failure-log.ts';
import type { ObjectFailure } from '../../src/dataplane/report.ts';

function capture() {
  const lines: Array<{ level: number; msg: string; object?: string; more?: number; recovered?: number; stillFailing?: number }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)); } });
  const take = () => lines.splice(0).map((l) => `${l.level} ${l.msg}${l.object ? ` ${l.object}` : ''}${l.more ? ` more=${l.more}` : ''}${l.recovered ? ` recovered=${l.recovered}` : ''}${l.stillFailing !== undefined ? ` still=${l.stillFailing}` : ''}`);
  return { logger, take };
}
const route = (dst: string, code = 'EEXIST'): ObjectFailure => ({ kind: 'route', key: `100 ${dst}`, object: `route ${dst} table 100`, code, reason: `${code} from the kernel` });

test('a failure is logged when it starts, at debug while it repeats, again when its cause changes, and recovery once', () => {
  const { logger, take } = capture();
  const log = createObjectFailureLog(logger);
  log.record([route('10.2.0.0/16')]);
  assert.deepEqual(take(), ['40 kernel object not programmed route 10.2.0.0/16 table 100']);
  log.record([route('10.2.0.0/16')]);
  log.record([route('10.2.0.0/16')]);
  assert.deepEqual(take(), ['20 kernel objects still not programmed still=1', '20 kernel objects still not programmed still=1']);
  log.record([route('10.2.0.0/16', 'ENETUNREACH'), route('10.3.0.0/16')]);
  assert.deepEqual(take(), ['40 kernel object not programmed route 10.2.0.0/16 table 100', '40 kernel object not programmed route 10.3.0.0/16 table 100']);
  log.record([route('10.3.0.0/16')]);
  assert.deepEqual(take(), ['20 kernel objects still not programmed still=1', '30 kernel objects programmed after failing recovered=1 still=1']);
  log.record([]);
  assert.deepEqual(take(), ['30 kernel objects programmed after failing recovered=1 still=0']);
  log.record([]);
  assert.deepEqual(take(), [], 'nothing failing, nothing said');
});

test('thousands of new failures in one pass: the first lines one by one, the rest counted in one line', () => {
  const { logger, take } = capture();
  const log = createObjectFailureLog(logger, 3);
  const many = Array.from({ length: 3000 }, (_, i) => route(`10.${i >> 8}.${i & 255}.0/24`));
  log.record(many);
  const lines = take();
  assert.equal(lines.length, 4);
  assert.deepEqual(lines.slice(0, 3), ['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24'].map((d) => `40 kernel object not programmed route ${d} table 100`));
  assert.equal(lines[3], '40 more kernel objects not programmed more=2997');
  log.record(many);
  assert.deepEqual(take(), ['20 kernel objects still not programmed still=3000']);
});
