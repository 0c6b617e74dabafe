import { ApnsMock } from '../test/upstreams/apns-mock';
import { apnsTestPki } from '../test/upstreams/apns-pki';
import { FcmMock, testKeys } from '../test/upstreams/fcm-mock';

/**
 * Child process of the bench: the upstream mocks the tests use (APNs over HTTP/2 + TLS
 * with token auth, FCM v1 with its OAuth token endpoint), all on 127.0.0.1. Prints one
 * JSON line describing them, then serves until SIGTERM/SIGINT or until its stdin closes
 * (the bench went away). Running them in their own process keeps the bench's own
 * sampling and bookkeeping from stalling them, and the reverse.
 */

export interface MocksInfo {
  readonly pid: number;
  readonly apns: {
    readonly url: string;
    readonly caFile: string;
    readonly keyFile: string;
    readonly keyId: string;
    readonly teamId: string;
  };
  readonly fcm: {
    readonly url: string;
    readonly projectId: string;
    readonly serviceAccountFile: string;
  };
}

/** How often the mocks' request records are dropped (they keep every request for the tests' assertions). */
const FORGET_EVERY_MS = 1_000;
/** Never serve longer than this, whatever happens to the parent. */
const MAX_LIFETIME_MS = 6 * 60 * 60 * 1000;

async function main(): Promise<void> {
  const pki = apnsTestPki();
  const apns = await ApnsMock.start({ pki, token: pki.tokenKey });
  // --fcm-tls: over TLS, so Herald talks HTTP/2 to it as to FCM (the test CA is the APNs mock's).
  const tls = process.argv.includes('--fcm-tls') ? { tls: { key: pki.serverKey, cert: pki.serverCert } } : {};
  const fcm = await FcmMock.start(testKeys(), tls);

  const forget = setInterval(() => {
    apns.requests.length = 0;
    fcm.sends.length = 0;
    fcm.tokenRequests.length = 0;
  }, FORGET_EVERY_MS);

  let closing = false;
  const close = async (code: number) => {
    if (closing) return;
    closing = true;
    clearInterval(forget);
    await Promise.allSettled([apns.close(), fcm.close()]);
    process.exit(code);
  };
  process.once('SIGTERM', () => void close(0));
  process.once('SIGINT', () => void close(0));
  process.stdin.on('end', () => void close(0));
  process.stdin.on('error', () => void close(0));
  process.stdin.resume();
  setTimeout(() => void close(0), MAX_LIFETIME_MS).unref();

  const info: MocksInfo = {
    pid: process.pid,
    apns: { url: apns.url, caFile: pki.caFile, keyFile: pki.tokenKey.file, keyId: pki.tokenKey.keyId, teamId: pki.tokenKey.teamId },
    fcm: { url: fcm.url, projectId: fcm.projectId, serviceAccountFile: fcm.serviceAccountFile },
  };
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`bench mocks: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  });
}
