import assert from 'node:assert/strict';
import { hintFor } from '../../../src/cli/send-test';
import type { DispatchOutcome } from '../../../src/pushkins/pushkin';

describe('cli/send-test hints', () => {
  const cases: ReadonlyArray<readonly [DispatchOutcome, RegExp | undefined]> = [
    [{ kind: 'delivered' }, undefined],
    [{ kind: 'rejected', reason: 'APNs 400 BadDeviceToken' }, /sandbox/],
    [{ kind: 'retry', reason: 'FCM answered 503 UNAVAILABLE' }, /temporary failure/],
    [{ kind: 'retry', reason: 'FCM answered 429' }, /rate-limiting/],
    [{ kind: 'misconfigured', reason: 'FCM answered 403 PERMISSION_DENIED' }, /Admin role/],
    // A port number is not a status code.
    [{ kind: 'retry', reason: 'no answer from APNs: connect ECONNREFUSED 127.0.0.1:35027' }, /No answer from the platform/],
    [{ kind: 'retry', reason: 'FCM unreachable or timed out: connect ECONNREFUSED 127.0.0.1:4290' }, /No answer from the platform/],
    [{ kind: 'retry', reason: "FCM TLS certificate refused (check the host name, ca_file, or a TLS-intercepting proxy): Hostname/IP does not match certificate's altnames (ERR_TLS_CERT_ALTNAME_INVALID)" }, /name does not match/],
    [{ kind: 'retry', reason: "no answer from APNs: apn write failed: Hostname/IP does not match certificate's altnames: Host: x. is not in the cert's altnames" }, /TLS certificate was refused/],
  ];
  for (const [outcome, hint] of cases) {
    it(`${outcome.kind}${'reason' in outcome ? `: ${outcome.reason}` : ''}`, () => {
      const found = hintFor(outcome);
      if (hint === undefined) assert.equal(found, undefined);
      else assert.match(found ?? '', hint);
    });
  }
});
