import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ThrottledWarning } from '../../../src/observability/throttled-log';
import { createLogger } from '../../../src/util/log';

describe('observability/throttled-log', () => {
  it('writes the first warning at once, then at most one per interval, counting the rest', () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger('info', new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>), done()) }));
    let now = 1_000_000;
    const warning = new ThrottledWarning(log, 60_000, () => now);
    warning.warn('export failed');
    now += 1_000;
    warning.warn('export failed again');
    now += 58_999;
    warning.warn('still failing');
    assert.deepEqual(lines.map((line) => line.msg), ['export failed']);
    now += 1;
    warning.warn('failing after a minute');
    assert.deepEqual(lines.map((line) => [line.msg, line.suppressed]), [['export failed', undefined], ['failing after a minute', 2]]);
  });
});
