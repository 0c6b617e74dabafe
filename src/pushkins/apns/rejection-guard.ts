/** APNs answers that mean "this token is dead" — or, for every token, "wrong environment or topic". */
const AMBIGUOUS_REASONS = new Set(['BadDeviceToken', 'DeviceTokenNotForTopic']);

/** Different devices in a row with such an answer, and no delivery, before it is taken as our mistake. */
export const SUSPECT_LIMIT = 5;

/**
 * Tells dead tokens from Herald's own misconfiguration. APNs answers BadDeviceToken for a
 * token that is not valid, and for every token when Herald sends to the wrong
 * environment (a sandbox app configured as production: the most common mistake);
 * DeviceTokenNotForTopic likewise for a wrong topic. Rejecting then would make
 * homeservers delete every user's pusher. So once SUSPECT_LIMIT different devices in a
 * row get one of these answers with no delivery in between, the next ones count as
 * misconfiguration (pushkey kept, 502) until a push is delivered again.
 */
export class RejectionGuard {
  private readonly suspects = new Set<string>();

  constructor(private readonly limit: number = SUSPECT_LIMIT) {}

  delivered(): void {
    this.suspects.clear();
  }

  /** True when an answer with `reason` for `token` should be taken as Herald's misconfiguration. */
  misconfigured(reason: string | undefined, token: string): boolean {
    if (reason === undefined || !AMBIGUOUS_REASONS.has(reason)) return false;
    this.suspects.add(token);
    return this.suspects.size >= this.limit;
  }
}
