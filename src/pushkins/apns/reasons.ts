/**
 * What Herald does with each APNs answer. Apple's list:
 * https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns
 *
 * A rejection makes the homeserver delete the user's pusher, so only the entries
 * marked `rejected` below ever produce one; an unknown (status, reason) never does.
 * Problems with our own credentials or topic are `misconfigured`: the pushkey is
 * fine and must be kept.
 */

export type Verdict = 'rejected' | 'misconfigured' | 'retry' | 'failed';

interface Rule {
  readonly status: number;
  readonly reason: string;
  readonly verdict: Verdict;
}

const RULES: readonly Rule[] = [
  // The token is malformed or not for this environment: a sandbox token sent to
  // production (or the reverse) also lands here, and can never work with this app.
  { status: 400, reason: 'BadDeviceToken', verdict: 'rejected' },
  // The token belongs to another app (topic): it can never work with this one.
  { status: 400, reason: 'DeviceTokenNotForTopic', verdict: 'rejected' },
  // The app was uninstalled or the user turned notifications off for good.
  { status: 410, reason: 'Unregistered', verdict: 'rejected' },
  // The token expired; the app registers a new one and its client a new pusher.
  { status: 410, reason: 'ExpiredToken', verdict: 'rejected' },

  // Our topic setting: wrong bundle id, missing with token auth, or not allowed
  // for this certificate/key.
  { status: 400, reason: 'TopicDisallowed', verdict: 'misconfigured' },
  { status: 400, reason: 'BadTopic', verdict: 'misconfigured' },
  { status: 400, reason: 'MissingTopic', verdict: 'misconfigured' },
  // Our push_type setting is not one Apple accepts for this topic.
  { status: 400, reason: 'InvalidPushType', verdict: 'misconfigured' },
  // Our certificate: wrong, revoked, or for the other environment.
  { status: 403, reason: 'BadCertificate', verdict: 'misconfigured' },
  { status: 403, reason: 'BadCertificateEnvironment', verdict: 'misconfigured' },
  // Our .p8 token: stale (clock skew, or reused past an hour), invalid, absent, or
  // its key id does not belong to this team or environment.
  { status: 403, reason: 'ExpiredProviderToken', verdict: 'misconfigured' },
  { status: 403, reason: 'InvalidProviderToken', verdict: 'misconfigured' },
  { status: 403, reason: 'MissingProviderToken', verdict: 'misconfigured' },
  { status: 403, reason: 'UnrelatedKeyIdInToken', verdict: 'misconfigured' },
  { status: 403, reason: 'BadEnvironmentKeyInToken', verdict: 'misconfigured' },
  // The key or certificate is not allowed to send to this app at all.
  { status: 403, reason: 'Forbidden', verdict: 'misconfigured' },

  // This message was wrong, not the token: sending it again won't help, but the
  // pusher stays. Herald builds these headers itself, so they point at a bug.
  { status: 400, reason: 'BadCollapseId', verdict: 'failed' },
  { status: 400, reason: 'BadExpirationDate', verdict: 'failed' },
  { status: 400, reason: 'BadMessageId', verdict: 'failed' },
  { status: 400, reason: 'BadPriority', verdict: 'failed' },
  { status: 400, reason: 'DuplicateHeaders', verdict: 'failed' },
  { status: 400, reason: 'MissingDeviceToken', verdict: 'failed' },
  { status: 400, reason: 'PayloadEmpty', verdict: 'failed' },
  { status: 404, reason: 'BadPath', verdict: 'failed' },
  { status: 405, reason: 'MethodNotAllowed', verdict: 'failed' },
  { status: 413, reason: 'PayloadTooLarge', verdict: 'failed' },

  // The connection sat idle too long; the next request opens a fresh one.
  { status: 400, reason: 'IdleTimeout', verdict: 'retry' },
  // Too many pushes to this one device, or the token was refreshed too often:
  // both pass with time.
  { status: 429, reason: 'TooManyRequests', verdict: 'retry' },
  { status: 429, reason: 'TooManyProviderTokenUpdates', verdict: 'retry' },
  // Apple's side is failing or going away.
  { status: 500, reason: 'InternalServerError', verdict: 'retry' },
  { status: 503, reason: 'ServiceUnavailable', verdict: 'retry' },
  { status: 503, reason: 'Shutdown', verdict: 'retry' },
];

const BY_KEY = new Map(RULES.map((rule) => [`${rule.status} ${rule.reason}`, rule.verdict]));

/** The verdict for an APNs error answer, and whether the table knew it. */
export function classifyAnswer(status: number, reason: string | undefined): { verdict: Verdict; known: boolean } {
  const listed = reason === undefined ? undefined : BY_KEY.get(`${status} ${reason}`);
  if (listed !== undefined) return { verdict: listed, known: true };
  return { verdict: fallbackVerdict(status), known: false };
}

/** For answers the table does not list. Never `rejected`. */
function fallbackVerdict(status: number): Verdict {
  // A 403 is always about who we are (node-apn reports ExpiredProviderToken as a bare 403).
  if (status === 403) return 'misconfigured';
  // Rate limits and server errors pass with time.
  if (status === 429 || status >= 500) return 'retry';
  // Some other client error: this message can't be sent, but the pushkey is kept.
  return 'failed';
}
