import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { notifyBody } from '../helpers/gateway';
import { SentryReceiver } from '../helpers/sentry-receiver';

const ROOT = join(__dirname, '..', '..');
const NOTIFY = '/_matrix/push/v1/notify';

/** Runs test/helpers/sentry-gateway-main.ts; resolves with its URL and a function that stops it and returns its log lines. */
async function startGatewayProcess(dsn: string): Promise<{ url: string; stop(): Promise<Array<Record<string, unknown>>> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test', 'helpers', 'sentry-gateway-main.ts'), dsn], {
    cwd: ROOT,
    env: { ...process.env, TSX_DISABLE_CACHE: '1' },
  });
  const lines: Array<Record<string, unknown>> = [];
  let partial = '';
  let stderr = '';
  let wake: () => void = () => {};
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
    wake();
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const nextLine = async (index: number): Promise<Record<string, unknown>> => {
    while (lines.length <= index) {
      const more = new Promise<void>((resolve) => (wake = resolve));
      await Promise.race([more, exited]);
      if (lines.length <= index && child.exitCode !== null) throw new Error(`the gateway process ended: ${stderr}`);
    }
    return lines[index] as Record<string, unknown>;
  };
  const { url } = (await nextLine(0)) as { url: string };
  return {
    url,
    stop: async () => {
      child.stdin.end();
      const { logs } = (await nextLine(1)) as { logs: Array<Record<string, unknown>> };
      await exited;
      return logs;
    },
  };
}

describe('error reports (Sentry, metrics.sentry)', () => {
  let receiver: SentryReceiver;

  beforeEach(() => {
    receiver = new SentryReceiver();
  });
  afterEach(() => receiver.stop());

  it('reports a 500 and a pushkin that throws, with the request id and nothing of the notification', async () => {
    const dsn = await receiver.start();
    const gateway = await startGatewayProcess(dsn);
    const post = (body: unknown) =>
      fetch(gateway.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

    const bug = await post(notifyBody({ event_id: '$bug:example.org' }, { app_id: 'com.example.buggy', pushkey: 'secret-pushkey-of-the-500' }));
    assert.equal(bug.status, 500);
    assert.deepEqual(await bug.json(), { errcode: 'M_UNKNOWN', error: 'internal server error' });
    const thrown = await post(notifyBody({ event_id: '$throw:example.org' }, { pushkey: 'throw-secret-pushkey' }));
    assert.equal(thrown.status, 502);

    const logs = await gateway.stop();
    assert.equal(receiver.events.length, 2, JSON.stringify(receiver.events));
    const failed = logs.find((line) => line.msg === 'request failed');
    const pushkinFailed = logs.find((line) => line.msg === 'pushkin failed unexpectedly');
    assert.ok(failed && pushkinFailed);
    const byRequest = new Map(receiver.events.map((event) => [event.tags?.request_id, event]));
    const the500 = byRequest.get(failed.request_id as string);
    const thePushkin = byRequest.get(pushkinFailed.request_id as string);
    assert.ok(the500, 'the 500 is reported with its request id');
    assert.ok(thePushkin, 'the pushkin exception is reported with its request id');
    assert.match(the500.exception?.values?.[0]?.value ?? '', /^bug while reading the outcome for \[redacted\]$/);
    assert.equal(thePushkin.exception?.values?.[0]?.value, 'scripted bug');
    assert.ok((the500.exception?.values?.[0]?.stacktrace?.frames?.length ?? 0) > 0, 'the stack is sent');
    for (const event of receiver.events) {
      assert.equal(event.request, undefined);
      assert.equal(event.user, undefined);
      assert.match(event.release ?? '', /^herald@/);
    }
    const sent = receiver.raw.join('\n');
    for (const secret of ['secret-pushkey', 'Hello there', 'Alice', 'Lunch', '!room:example.org']) {
      assert.ok(!sent.includes(secret), `${secret} must not be sent to Sentry`);
    }
  });
});
