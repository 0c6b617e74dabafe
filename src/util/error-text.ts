/** An error as a log-safe line: message and errno code (never request headers or bodies). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${err.message} (${code})` : err.message;
}

/**
 * Node's codes for a server certificate that TLS refused (Node's tls and OpenSSL's
 * X509_V_ERR_* names): a name that does not match, an unknown CA, an expired certificate.
 */
const TLS_CERTIFICATE_CODES = new Set([
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REVOKED',
]);

/** The TLS certificate error in `err` or its causes, if that is what failed. */
function tlsCertificateError(err: unknown): Error | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (TLS_CERTIFICATE_CODES.has(String((e as NodeJS.ErrnoException).code))) return e;
  }
  return undefined;
}

/**
 * Why a request to `upstream` (e.g. "FCM") got no HTTP answer, for logs and outcomes: a
 * certificate TLS refused is said as such (the host answered; its name or CA is wrong),
 * anything else is unreachable or timed out.
 */
export function connectionFailureText(upstream: string, err: unknown): string {
  const tls = tlsCertificateError(err);
  if (tls !== undefined) return `${upstream} TLS certificate refused (check the host name, ca_file, or a TLS-intercepting proxy): ${errorText(tls)}`;
  return `${upstream} unreachable or timed out: ${errorText(err)}`;
}
