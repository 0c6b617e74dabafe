import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../src/util/clock';
import { ApnsMock, type ApnsMockOptions } from '../upstreams/apns-mock';
import { apnsTestPki, type ApnsTestPki } from '../upstreams/apns-pki';
import { notifyBody, startGateway, type RunningGateway, type StartOptions } from './gateway';
import { assertUpstreamNotifyResponse } from './upstream-schema';

/** Shared by the APNs integration tests: a gateway with one APNs app in front of an ApnsMock. */

export const APP = 'com.example.app';
const NOTIFY = '/_matrix/push/v1/notify';

export interface Reply {
  status: number;
  body: { rejected: string[]; devices?: Array<{ pushkey: string; outcome: string; reason?: string }> };
  headers: Headers;
}

/** A device as a Matrix client registers it: base64 pushkey, and the hex token APNs sees. */
export function device(label: string): { pushkey: string; hex: string } {
  const bytes = createHash('sha256').update(label).digest();
  return { pushkey: bytes.toString('base64'), hex: bytes.toString('hex') };
}

let eventCounter = 0;

/** POSTs notifyBody() to the gateway for one APP device, with a fresh event id (de-duplication never hides a send). */
export async function notify(gw: RunningGateway, notification: Record<string, unknown> = {}, deviceFields: Record<string, unknown> = {}): Promise<Reply> {
  const body = notifyBody({ event_id: `$event${++eventCounter}:example.org`, ...notification }, { app_id: APP, ...deviceFields });
  const response = await fetch(gw.url + NOTIFY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await response.json()) as Reply['body'];
  if (response.status === 200) assertUpstreamNotifyResponse(json);
  return { status: response.status, body: json, headers: response.headers };
}

/** Real time, but backoff waits are recorded and cut to a few ms. */
export function fastClock(): { clock: Clock; sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    clock: {
      now: () => Date.now(),
      sleep: async (ms, signal) => {
        sleeps.push(ms);
        await delay(Math.min(ms, 5), undefined, { signal });
      },
    },
  };
}

/** Starts mocks and gateways for one test, and closes them all afterwards. */
export class ApnsHarness {
  readonly pki: ApnsTestPki = apnsTestPki();
  private readonly running: Array<{ close(): Promise<void> }> = [];

  /** A mock checking provider tokens from the test key, unless told otherwise. */
  async mock(options: Partial<ApnsMockOptions> = {}): Promise<ApnsMock> {
    const mock = await ApnsMock.start({ pki: this.pki, token: this.pki.tokenKey, ...options });
    this.running.push(mock);
    return mock;
  }

  /** An `apps` entry using token auth against `mock`. */
  tokenApp(mock: ApnsMock, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const { tokenKey, caFile } = this.pki;
    return {
      type: 'apns',
      keyfile: tokenKey.file,
      key_id: tokenKey.keyId,
      team_id: tokenKey.teamId,
      topic: 'com.example.app',
      platform: 'sandbox',
      endpoint: mock.url,
      ca_file: caFile,
      request_timeout_ms: 3_000,
      ...extra,
    };
  }

  /** An `apps` entry using certificate auth against `mock`. */
  certApp(mock: ApnsMock, certfile: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { type: 'apns', certfile, platform: 'sandbox', endpoint: mock.url, ca_file: this.pki.caFile, ...extra };
  }

  async gateway(app: Record<string, unknown>, options: StartOptions = {}): Promise<RunningGateway> {
    const gw = await startGateway(`apps: ${JSON.stringify({ [APP]: app })}\n`, options);
    this.running.push(gw);
    return gw;
  }

  async close(): Promise<void> {
    // Gateways before mocks, so their connections close first.
    for (const item of this.running.splice(0).reverse()) await item.close();
  }
}
