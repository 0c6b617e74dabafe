import type { DispatchOutcome } from '../pushkin';

/** A distributor's answer → the device's outcome and the log line it deserves. Pure. */
export interface AnswerVerdict {
  readonly outcome: DispatchOutcome;
  readonly level: 'debug' | 'info' | 'warn';
  /** Set when the distributor's host should be answered from memory for a while. */
  readonly remember?: 'unavailable';
}

/**
 * Status codes as UnifiedPush distributors use them (ntfy, NextPush, Gotify) and as the
 * common-proxies Matrix gateway reads them: 404 and 410 say the endpoint is gone, and so
 * do 401–403 (the distributor no longer accepts pushes for it); 413 refuses this message
 * only; 408, 429 and 5xx are temporary. A redirect is not followed (the endpoint is a
 * capability URL, not a page that moves), and is no proof the endpoint is gone.
 */
export function verdictOf(status: number, retryAfterMs: number | undefined): AnswerVerdict {
  const what = `distributor answered ${status}`;
  if (status >= 200 && status < 300) return { outcome: { kind: 'delivered' }, level: 'debug' };
  if (status === 404 || status === 410 || (status >= 401 && status <= 403)) {
    return { outcome: { kind: 'rejected', reason: `${what}: the endpoint is gone` }, level: 'info' };
  }
  if (status === 413) return { outcome: { kind: 'failed', reason: `${what}: message too large` }, level: 'warn' };
  if (status === 408 || status === 429 || status >= 500) {
    return { outcome: { kind: 'retry', reason: what, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) }, level: 'warn', remember: 'unavailable' };
  }
  if (status >= 300 && status < 400) return { outcome: { kind: 'failed', reason: `${what}: redirects are not followed` }, level: 'warn' };
  return { outcome: { kind: 'failed', reason: `${what}: message refused` }, level: 'warn' };
}

/** Why a distributor can never be reached at connect time; undefined for a failure that may pass. */
export type ConnectRefusal = 'private_address' | 'unreachable';

/**
 * Errors of a connection attempt that say the endpoint's host can never be reached: it
 * resolves to a non-public address (the address guard), it does not exist (DNS NXDOMAIN:
 * ENOTFOUND; EAI_AGAIN is temporary), or its TLS certificate is not valid for it. A
 * refused or reset connection, or a timeout, may pass.
 */
export function connectRefusal(err: unknown): { refusal: ConnectRefusal; reason: string } | undefined {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    const code = (cause as NodeJS.ErrnoException).code ?? '';
    if (code === 'HERALD_ENDPOINT_REFUSED') return { refusal: 'private_address', reason: 'the endpoint host resolves to a non-public address' };
    if (code === 'ENOTFOUND') return { refusal: 'unreachable', reason: 'the endpoint host does not exist (DNS NXDOMAIN)' };
    if (TLS_FAILURE.test(code) && code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return { refusal: 'unreachable', reason: `TLS with the endpoint host failed (${code})` };
  }
  return undefined;
}

/** OpenSSL's certificate verification codes and Node's TLS errors (Node docs, "X509 certificate error codes"). */
const TLS_FAILURE = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|INVALID_CA$|PATH_LENGTH_EXCEEDED$|INVALID_PURPOSE$|CERT_UNTRUSTED$|CERT_REJECTED$)/;
