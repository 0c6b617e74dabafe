/**
 * A gateway with error reports to the DSN given as the first argument, run as its own
 * process by test/integration/sentry.test.ts: the Sentry SDK installs process-wide
 * handlers, which must not outlive the test in the test runner's process. It serves
 * scripted pushkins plus a `buggy` one whose outcome throws when read (a bug that ends in
 * a 500), prints `{"url": ...}`, and on stdin's end closes and prints its log lines.
 */
import type { DispatchOutcome, Pushkin, PushkinType } from '../../src/pushkins/pushkin';
import { startGateway } from './gateway';
import { ScriptedPlatform } from './scripted-pushkin';

const buggyType: PushkinType<unknown> = {
  type: 'buggy',
  readConfig: () => ({}),
  create: async (_config, env): Promise<Pushkin> => ({
    name: env.name,
    type: 'buggy',
    dispatch: async (_notification, device) =>
      ({
        kind: 'retry',
        reason: 'buggy outcome',
        get retryAfterMs(): number {
          throw new Error(`bug while reading the outcome for ${device.pushkey}`);
        },
      }) as DispatchOutcome,
    close: async () => {},
  }),
  summary: () => ({}),
};

void (async () => {
  const dsn = process.argv[2] ?? '';
  const platform = new ScriptedPlatform();
  const yaml = `
metrics:
  sentry:
    enabled: true
    dsn: '${dsn}'
apps:
  com.example.buggy:
    type: buggy
  com.example.app:
    type: scripted
`;
  const gw = await startGateway(yaml, { pushkinTypes: new Map([...platform.types(), ['buggy', buggyType]]) });
  process.stdout.write(`${JSON.stringify({ url: gw.url })}\n`);
  process.stdin.on('end', () => {
    void gw.close().then(
      () => {
        process.stdout.write(`${JSON.stringify({ logs: gw.logs.lines })}\n`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`${String(err)}\n`);
        process.exit(1);
      },
    );
  });
  process.stdin.resume();
})();
