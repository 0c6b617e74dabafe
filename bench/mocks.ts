import { ApnsMock } from '../test/upstreams/apns-mock';
import { apnsTestPki } from '../test/upstreams/apns-pki';
import { FcmMock, testKeys } from '../test/upstreams/fcm-mock';
import { otlpSink } from './otlp-sink';

/**
 * Child process of the bench: the upstream mocks the tests use (APNs over HTTP/2 + TLS
 * with token auth, FCM v1 with its OAuth token endpoint; `--fcm-tls`: FCM over TLS, so
 * Herald speaks HTTP/2 to it as to the real FCM) and an OTLP/HTTP sink for the traced
 * scenarios, on 127.0.0.1, in a process of their own
 * so the bench's sampling never stalls them. Prints one JSON line describing them, then
 * serves until SIGTERM or until its stdin closes.
 */

export interface MocksInfo {
  readonly pid: number;
  readonly apns: { readonly url: string; readonly caFile: string; readonly keyFile: string; readonly keyId: string; readonly teamId: string };
  readonly fcm: { readonly url: string; readonly projectId: string; readonly serviceAccountFile: string };
  /** Where the traced scenarios export their spans. */
  readonly otlpUrl: string;
}

async function main(): Promise<void> {
  const pki = apnsTestPki();
  const apns = await ApnsMock.start({ pki, token: pki.tokenKey });
  const fcm = await FcmMock.start(testKeys(), process.argv.includes('--fcm-tls') ? { tls: { key: pki.serverKey, cert: pki.serverCert } } : {});
  // The mocks keep every request for the tests' assertions: drop them as they come.
  setInterval(() => {
    apns.requests.length = 0;
    fcm.sends.length = 0;
    fcm.tokenRequests.length = 0;
  }, 1_000);
  const close = () => void Promise.allSettled([apns.close(), fcm.close()]).then(() => process.exit(0));
  process.once('SIGTERM', close);
  process.stdin.on('end', close).resume();
  const info: MocksInfo = {
    pid: process.pid,
    apns: { url: apns.url, caFile: pki.caFile, keyFile: pki.tokenKey.file, keyId: pki.tokenKey.keyId, teamId: pki.tokenKey.teamId },
    fcm: { url: fcm.url, projectId: fcm.projectId, serviceAccountFile: fcm.serviceAccountFile },
    otlpUrl: await otlpSink(),
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

main().catch((err: unknown) => {
  console.error(`bench mocks: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
