import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

/**
 * Starts the built gateway in a fresh process on `yaml`, sends it one notification, and
 * answers which OpenTelemetry and Sentry modules that process loaded.
 */
function modulesLoadedServing(yaml: string): string[] {
  const script = `
const { loadConfigText } = require('./dist/src/config/config');
const { BUILTIN_PUSHKIN_TYPES } = require('./dist/src/pushkins/registry');
const { Gateway } = require('./dist/src/app');
const { createLogger } = require('./dist/src/util/log');
const { Writable } = require('node:stream');
(async () => {
  const { config } = loadConfigText(process.argv[1], process.cwd(), BUILTIN_PUSHKIN_TYPES);
  const gateway = await Gateway.create(config, { log: createLogger('info', new Writable({ write: (_c, _e, cb) => cb() })) });
  const [address] = await gateway.listen();
  const response = await fetch('http://127.0.0.1:' + address.port + '/_matrix/push/v1/notify', {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    body: JSON.stringify({ notification: { event_id: '$e', devices: [{ app_id: 'a', pushkey: 'k' }] } }),
  });
  if (response.status !== 200) throw new Error('notify answered ' + response.status);
  const loaded = Object.keys(require.cache).filter((path) => /node_modules[\\\\/]@(opentelemetry|sentry)[\\\\/]/.test(path));
  await gateway.close(0);
  process.stdout.write(JSON.stringify(loaded));
  process.exit(0);
})().catch((err) => { process.stderr.write(String(err.stack)); process.exit(1); });
`;
  const run = spawnSync(process.execPath, ['-e', script, yaml], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as string[];
}

const BASE = `http: {port: 0, bind_addresses: ['127.0.0.1']}
apps:
  a: {type: noop}
`;

describe('tracing and error reports cost nothing when off', () => {
  it('loads no OpenTelemetry SDK or Sentry module when both are off, serving a notification', () => {
    // prom-client loads the (no-op) @opentelemetry/api for its exemplars, tracing or not.
    const loaded = modulesLoadedServing(BASE).filter((path) => !/@opentelemetry[\\/]api[\\/]/.test(path));
    assert.deepEqual(loaded, []);
  });

  it('loads OpenTelemetry, and not Sentry, when only tracing is on', () => {
    // 127.0.0.1:9 (discard) refuses: the export fails, which changes nothing here.
    const loaded = modulesLoadedServing(`${BASE}tracing: {enabled: true, otlp_endpoint: 'http://127.0.0.1:9'}\n`);
    assert.ok(loaded.some((path) => path.includes('@opentelemetry')), 'the test sees what tracing loads');
    assert.ok(!loaded.some((path) => path.includes('@sentry')));
  });
});
