import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';

/** TLS options trusting `ca` (PEM) besides the system's CAs: a `ca` given alone would replace the system's list. */
export function trustAlso(ca: string | undefined): { ca?: string[] } {
  return ca !== undefined ? { ca: [...rootCertificates, ca] } : {};
}

/**
 * Runs `send` with a signal that aborts when `signal` does, or after `timeoutMs`.
 * Our own controller rather than AbortSignal.any: its listeners on long-lived signals are
 * only dropped when those abort, which would pile up on a pushkin's lifetime signal.
 */
export async function withTimeout<T>(signal: AbortSignal, timeoutMs: number, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const abort = () => controller.abort(signal.reason);
  if (signal.aborted) abort();
  signal.addEventListener('abort', abort, { once: true });
  const timer = setTimeout(() => controller.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  try {
    return await send(controller.signal);
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
}

/** Lets requests in flight finish for `graceMs`, then cuts them: closing must not hang on a silent upstream. */
export async function closeWithin(dispatchers: readonly Dispatcher[], graceMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const closed = Promise.all(dispatchers.map((d) => d.close())).then(
    () => 'closed' as const,
    () => 'timeout' as const,
  );
  const result = await Promise.race([closed, graceOver]);
  clearTimeout(timer);
  if (result === 'timeout') await Promise.all(dispatchers.map((d) => d.destroy().catch(() => undefined)));
}
