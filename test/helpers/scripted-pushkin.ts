import type { ConfigSection } from '../../src/config/section';
import type { DispatchOutcome, Pushkin, PushkinType } from '../../src/pushkins/pushkin';
import type { PushkinTypes } from '../../src/pushkins/registry';

/**
 * A platform for gateway tests whose outcome is chosen by the pushkey:
 *   delivered-*      delivered          reject-*     rejected
 *   retry-*          retry (1.5 s)      misconfig-*  misconfigured
 *   fail-*           failed             skip-*       skipped
 *   slow-<ms>-*      delivered after <ms> ms
 *   hang-*           never answers (until the request's deadline aborts it)
 *   throw-*          throws (a bug in a pushkin)
 * It records every dispatch and the highest number of dispatches in flight at once.
 */
export class ScriptedPlatform {
  readonly calls: Array<{ app: string; pushkey: string; eventId?: string }> = [];
  inFlight = 0;
  maxInFlight = 0;

  countFor(pushkey: string): number {
    return this.calls.filter((call) => call.pushkey === pushkey).length;
  }

  types(): PushkinTypes {
    const type: PushkinType<{ label: string }> = {
      type: 'scripted',
      readConfig: (section: ConfigSection) => ({ label: section.string('label', { default: '' }) }),
      create: async (_config, env): Promise<Pushkin> => ({
        name: env.name,
        type: 'scripted',
        dispatch: async (notification, device, ctx) => {
          this.calls.push({ app: env.name, pushkey: device.pushkey, eventId: notification.event_id });
          this.inFlight++;
          this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
          try {
            return await outcomeFor(device.pushkey, ctx.signal);
          } finally {
            this.inFlight--;
          }
        },
        close: async () => {},
      }),
      summary: () => ({}),
    };
    return new Map([['scripted', type as PushkinType<unknown>]]);
  }
}

async function outcomeFor(pushkey: string, signal: AbortSignal): Promise<DispatchOutcome> {
  const [kind, arg] = pushkey.split('-');
  switch (kind) {
    case 'reject':
      return { kind: 'rejected', reason: 'scripted rejection' };
    case 'retry':
      return { kind: 'retry', reason: 'scripted temporary failure', retryAfterMs: 1500 };
    case 'misconfig':
      return { kind: 'misconfigured', reason: 'scripted bad credentials' };
    case 'fail':
      return { kind: 'failed', reason: 'scripted payload too large' };
    case 'skip':
      return { kind: 'skipped', reason: 'nothing to send' };
    case 'slow':
      await new Promise((resolve) => setTimeout(resolve, Number(arg)));
      return { kind: 'delivered' };
    case 'hang':
      // Never answers; resolves only once the deadline has aborted the request, like a stuck upstream.
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      return { kind: 'delivered' };
    case 'throw':
      throw new Error('scripted bug');
    default:
      return { kind: 'delivered' };
  }
}
