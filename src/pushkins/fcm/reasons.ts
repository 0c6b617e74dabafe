import { isPlainObject } from '../../config/section';

/** What an FCM v1 error response says, read from its body (google.rpc.Status), not only its code. */
export interface FcmError {
  readonly httpStatus: number;
  /** `error.status`: the google.rpc code name (NOT_FOUND, INVALID_ARGUMENT…). */
  readonly status?: string;
  /** `error.details[].errorCode` of the FcmError detail (UNREGISTERED, SENDER_ID_MISMATCH…). */
  readonly errorCode?: string;
  /** `error.message`, FCM's human-readable explanation. */
  readonly message?: string;
  /** A BadRequest detail names `message.token` as the bad field. */
  readonly badTokenField: boolean;
  /** The body was FCM's JSON error shape (not a proxy's HTML page). */
  readonly fromFcm: boolean;
}

export type Classification =
  | { readonly kind: 'rejected'; readonly reason: string }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'misconfigured'; readonly reason: string; readonly label: string }
  | { readonly kind: 'retry'; readonly reason: string; readonly retryAfterMs?: number }
  /** Our access token was refused: get a new one and try again once, then it is misconfiguration. */
  | { readonly kind: 'renew-token'; readonly reason: string };

export function parseFcmError(httpStatus: number, body: string): FcmError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const error = isPlainObject(parsed) && isPlainObject(parsed.error) ? parsed.error : undefined;
  if (!error) return { httpStatus, badTokenField: false, fromFcm: false };
  const details = Array.isArray(error.details) ? error.details.filter(isPlainObject) : [];
  const errorCode = details.map((d) => d.errorCode).find((code): code is string => typeof code === 'string');
  const badTokenField = details.some(
    (d) => Array.isArray(d.fieldViolations) && d.fieldViolations.some((v) => isPlainObject(v) && v.field === 'message.token'),
  );
  return {
    httpStatus,
    ...(typeof error.status === 'string' ? { status: error.status } : {}),
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(typeof error.message === 'string' ? { message: error.message } : {}),
    badTokenField,
    fromFcm: true,
  };
}

/** FCM's wording for a token that is not a registration token at all (malformed, truncated). */
const INVALID_TOKEN_MESSAGE = /registration token.*(not a valid|invalid)|invalid registration/i;

interface Rule {
  readonly when: (e: FcmError) => boolean;
  readonly then: (e: FcmError, retryAfterMs: number | undefined) => Classification;
}

const code = (e: FcmError): string => e.errorCode ?? e.status ?? String(e.httpStatus);
const retry = (e: FcmError, retryAfterMs: number | undefined): Classification => ({
  kind: 'retry',
  reason: `FCM ${e.httpStatus} ${code(e)}`,
  ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
});
const misconfigured = (label: string, why: string) => (): Classification => ({ kind: 'misconfigured', label, reason: why });

/**
 * Ordered: the first rule that matches decides. The FcmError detail is the most specific
 * signal, then error.status, then the bare HTTP code. A pushkey is rejected (its pusher
 * deleted) only on FCM's own word that the token is dead or malformed.
 */
const RULES: readonly Rule[] = [
  // The app was uninstalled or the token expired: FCM will never accept it again.
  { when: (e) => e.errorCode === 'UNREGISTERED', then: () => ({ kind: 'rejected', reason: 'FCM: UNREGISTERED (token no longer valid)' }) },
  // INVALID_ARGUMENT about the token itself (FCM's message or a BadRequest on message.token): the pushkey can never work.
  {
    when: (e) => isInvalidArgument(e) && (e.badTokenField || INVALID_TOKEN_MESSAGE.test(e.message ?? '')),
    then: () => ({ kind: 'rejected', reason: 'FCM: INVALID_ARGUMENT (not a valid registration token)' }),
  },
  // Any other INVALID_ARGUMENT is our message's fault (a field fcm_options set wrongly…): the pushkey is fine.
  { when: isInvalidArgument, then: () => ({ kind: 'failed', reason: 'FCM: INVALID_ARGUMENT (message refused)' }) },
  // The token was issued for another Firebase project than project_id / the service account's.
  {
    when: (e) => e.errorCode === 'SENDER_ID_MISMATCH',
    then: misconfigured('SENDER_ID_MISMATCH', 'FCM: SENDER_ID_MISMATCH (token belongs to another Firebase project than project_id)'),
  },
  // iOS via Firebase: the APNs key/certificate uploaded to the Firebase console is missing or invalid.
  {
    when: (e) => e.errorCode === 'THIRD_PARTY_AUTH_ERROR',
    then: misconfigured('THIRD_PARTY_AUTH_ERROR', 'FCM: THIRD_PARTY_AUTH_ERROR (APNs credentials in the Firebase console are invalid)'),
  },
  // FCM's quota, or a server-side problem: temporary; FCM's Retry-After says when to come back.
  { when: (e) => ['QUOTA_EXCEEDED', 'UNAVAILABLE', 'INTERNAL'].includes(e.errorCode ?? ''), then: retry },
  // Our OAuth access token was refused (expired early, revoked, clock skew): renew it once.
  { when: (e) => e.httpStatus === 401 || e.status === 'UNAUTHENTICATED', then: () => ({ kind: 'renew-token', reason: 'FCM 401 UNAUTHENTICATED' }) },
  // The service account may not send for this project (missing role, FCM API disabled, wrong project_id).
  {
    when: (e) => e.httpStatus === 403 || e.status === 'PERMISSION_DENIED',
    then: misconfigured('PERMISSION_DENIED', 'FCM 403 PERMISSION_DENIED (service account lacks permission for project_id, or the FCM API is disabled)'),
  },
  // A 404 that is not FCM's JSON: the endpoint or project path is wrong. Never a reason to delete pushers.
  {
    when: (e) => e.httpStatus === 404 && !e.fromFcm,
    then: misconfigured('NOT_FOUND', 'FCM endpoint answered 404 without an FCM error (check endpoint and project_id)'),
  },
  // Rate limiting, timeouts and server errors under any name: temporary.
  {
    when: (e) => e.httpStatus === 408 || e.httpStatus === 429 || e.httpStatus >= 500 || e.status === 'RESOURCE_EXHAUSTED' || e.status === 'UNAVAILABLE' || e.status === 'INTERNAL',
    then: retry,
  },
];

function isInvalidArgument(e: FcmError): boolean {
  return e.errorCode === 'INVALID_ARGUMENT' || e.status === 'INVALID_ARGUMENT';
}

/** Decides what an FCM error response means for the device. Anything unlisted fails without rejecting. */
export function classifyFcmError(error: FcmError, retryAfterMs?: number): Classification {
  const rule = RULES.find((r) => r.when(error));
  if (rule) return rule.then(error, retryAfterMs);
  return { kind: 'failed', reason: `FCM ${error.httpStatus} ${code(error)}` };
}

/** Why no access token could be had: temporary (`retry`) or our credentials (`misconfigured`). */
export class TokenError extends Error {
  constructor(
    message: string,
    readonly kind: 'retry' | 'misconfigured',
    readonly label: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'TokenError';
  }
}
