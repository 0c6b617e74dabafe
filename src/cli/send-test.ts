import { randomBytes } from 'node:crypto';
import type { Writable } from 'node:stream';
import { pushkinEnv } from '../app';
import { AppRouter } from '../dispatch/router';
import type { AppConfig, LoadedConfig } from '../config/config';
import { ConfigError } from '../config/section';
import { Metrics } from '../metrics/metrics';
import type { Notification } from '../notification/types';
import type { DispatchOutcome, Pushkin } from '../pushkins/pushkin';
import { systemClock } from '../util/clock';
import { createLogger } from '../util/log';
import { ProxySettings } from '../util/proxy';
import { redactPushkey } from '../util/redact';
import { loadForCli } from './check-config';
import { EXIT_CONFIG, EXIT_FAILED, EXIT_OK, reportConfigError } from './exit';

export interface SendTestOptions {
  readonly configFile: string;
  readonly appId: string;
  readonly pushkey: string;
  readonly format: 'full' | 'event_id_only';
  readonly message: string;
  /** Pusher data to send with (e.g. a Web Push subscription's `endpoint` and `auth`). */
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * What a platform's answer usually means, for the operator reading `send-test`'s output.
 * Matched against the outcome's reason, first match wins. Status codes are matched as
 * whole words: a port number in a connection error is not a 5xx.
 */
const HINTS: ReadonlyArray<readonly [RegExp, string]> = [
  [/refused Herald's VAPID/, 'The push service refused the VAPID signature: the browser subscribed with another applicationServerKey than the public key of vapid_private_key (see `herald check-config`).'],
  [/subscription expired/, 'The browser unsubscribed or the subscription expired: the client must subscribe again and register a new pusher.'],
  [/allowed_endpoints/, 'This push service is not in the app\'s allowed_endpoints.'],
  [/non-public address|not a public address/, 'The endpoint is a private or loopback address: Herald refuses those unless allow_private_endpoints is set.'],
  [/BadDeviceToken/, 'APNs does not know this token in this environment. Most often a development (sandbox) token sent to production or the reverse: check `platform`, and give development builds their own app_id with `platform: sandbox`.'],
  [/DeviceTokenNotForTopic/, 'The token belongs to another app: check `topic` (the app\'s bundle id).'],
  [/Unregistered|ExpiredToken/, 'The app was uninstalled or its token expired: the client must register a new pusher.'],
  [/TopicDisallowed|BadTopic|MissingTopic/, 'The topic is wrong or missing: set `topic` to the bundle id the certificate or key is allowed to push to.'],
  [/BadCertificateEnvironment/, 'The certificate is for the other APNs environment: check `platform`.'],
  [/BadCertificate/, 'APNs refused the client certificate: export it again from the Apple developer account.'],
  [/ExpiredProviderToken|InvalidProviderToken|MissingProviderToken/, 'APNs refused the token signature: check keyfile, key_id and team_id, and that this host\'s clock is right.'],
  [/UNREGISTERED/, 'FCM no longer knows this registration token (app uninstalled, data cleared or token rotated).'],
  [/SENDER_ID_MISMATCH/, 'The token belongs to another Firebase project: check project_id and the service account file.'],
  [/THIRD_PARTY_AUTH_ERROR/, 'iOS through FCM: the APNs key or certificate uploaded to the Firebase project is missing or invalid.'],
  [/PERMISSION_DENIED|\b40[13]\b/, 'The service account is not allowed to send: give it the Firebase Cloud Messaging API Admin role, and enable the FCM API in the project.'],
  [/INVALID_ARGUMENT/, 'FCM refused the message or the token as malformed; its message above says which.'],
  [/QUOTA_EXCEEDED|TooManyRequests|\b429\b/, 'The platform is rate-limiting: the homeserver\'s retry will go through later.'],
  [/UNAVAILABLE|INTERNAL|ServiceUnavailable|InternalServerError|\b5\d\d\b/, 'The platform is having trouble: a temporary failure, retried later.'],
  [/TLS certificate refused|ERR_TLS_CERT|altnames|CERT_|SELF_SIGNED/, "The platform's TLS certificate was refused: its name does not match the endpoint's host, or no trusted CA signed it (a private CA needs ca_file; a TLS-intercepting proxy needs its CA too)."],
  [/deadline|timeout|timed out|ECONNREFUSED|ENOTFOUND|connect/i, 'No answer from the platform: check this host reaches it (firewall, proxy setting) and the endpoint.'],
];

export function hintFor(outcome: DispatchOutcome): string | undefined {
  if (!('reason' in outcome)) return undefined;
  return HINTS.find(([pattern]) => pattern.test(outcome.reason))?.[1];
}

export function testNotification(options: SendTestOptions): Notification {
  const device = {
    app_id: options.appId,
    pushkey: options.pushkey,
    pushkey_ts: Math.floor(Date.now() / 1000),
    data: { ...options.data, ...(options.format === 'event_id_only' ? { format: 'event_id_only' } : {}) },
    tweaks: options.format === 'event_id_only' ? {} : { sound: 'default' },
  };
  const base = {
    event_id: `$herald-test-${randomBytes(8).toString('hex')}`,
    room_id: '!herald-test:localhost',
    prio: 'high' as const,
    counts: { unread: 1 },
    devices: [device],
  };
  if (options.format === 'event_id_only') return base;
  return {
    ...base,
    type: 'm.room.message',
    sender: '@herald:localhost',
    sender_display_name: 'Herald',
    room_name: 'Herald test',
    content: { msgtype: 'm.text', body: options.message },
  };
}

/**
 * `herald send-test`: sends one notification through the pushkin configured for the
 * app_id, bypassing the HTTP layer and the store, and prints what the platform said.
 * Always ends with a `result:` line. Exits EXIT_OK when it was delivered, EXIT_CONFIG when
 * the configuration is invalid or the app's credentials cannot be loaded, EXIT_FAILED
 * for any other outcome (rejected, retry, timed out, unreachable, misconfigured).
 */
export async function sendTest(options: SendTestOptions, out: Writable, stderr: Writable): Promise<number> {
  let loaded: LoadedConfig;
  try {
    loaded = loadForCli(options.configFile, stderr);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    out.write('result:  misconfigured (invalid configuration file)\n');
    return reportConfigError(options.configFile, err, stderr);
  }
  const { config } = loaded;
  const route = new AppRouter<AppConfig>(config.apps.map((app) => [app.name, app] as const)).route(options.appId);
  if (route.kind !== 'found') {
    const why = route.kind === 'ambiguous' ? `matches several apps (${route.matches.join(', ')})` : 'matches no configured app';
    if (route.kind === 'ambiguous' || config.unknownAppId === 'retry') {
      out.write(`result:  misconfigured (app_id ${options.appId} ${why}${route.kind === 'unknown' ? '; unknown_app_id: retry' : ''})\n`);
      out.write('meaning: the gateway would answer 502 and keep this pushkey: check the app_id against the keys under `apps`.\n');
    } else {
      out.write(`result:  rejected (app_id ${options.appId} ${why})\n`);
      out.write('meaning: the gateway would reject this pushkey: check the app_id against the keys under `apps`.\n');
    }
    return EXIT_FAILED;
  }
  const app = route.target;
  out.write(`app:     ${options.appId} → apps.${JSON.stringify(app.name)} (${app.type})\n`);
  out.write(`pushkey: ${redactPushkey(options.pushkey)}\n`);
  out.write(`format:  ${options.format}\n`);
  const log = createLogger('warn', process.stderr);
  let pushkin: Pushkin;
  try {
    pushkin = await app.pushkinType.create(
      app.settings,
      pushkinEnv(app, { log, metrics: new Metrics(), clock: systemClock, proxy: ProxySettings.resolve(config.proxy) }),
    );
  } catch (err) {
    out.write(`result:  misconfigured (${(err as Error).message})\n`);
    return EXIT_CONFIG;
  }
  const notification = testNotification(options);
  const signal = AbortSignal.timeout(config.http.notifyDeadlineMs);
  let outcome: DispatchOutcome;
  try {
    outcome = await pushkin.dispatch(notification, notification.devices[0], {
      log,
      deadline: Date.now() + config.http.notifyDeadlineMs,
      signal,
    });
  } catch (err) {
    outcome = { kind: 'failed', reason: `the pushkin failed unexpectedly: ${(err as Error).message}` };
  } finally {
    await pushkin.close();
  }
  out.write(`result:  ${outcome.kind}${'reason' in outcome ? ` (${outcome.reason})` : ''}\n`);
  const hint = hintFor(outcome);
  if (hint) out.write(`meaning: ${hint}\n`);
  return outcome.kind === 'delivered' || outcome.kind === 'skipped' ? EXIT_OK : EXIT_FAILED;
}
