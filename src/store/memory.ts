import { hash } from 'node:crypto';
import { ExpiringSet } from './lru';
import type { PushStore } from './store';

export interface MemoryStoreOptions {
  readonly rejectedTtlSeconds: number;
  readonly rejectedMaxEntries: number;
  readonly dedupTtlSeconds: number;
  readonly dedupMaxEntries: number;
  readonly now?: () => number;
}

/** Keys join their parts with NUL, which cannot occur in JSON-decoded identifiers we accept. */
const SEP = '\u0000';

/**
 * The first 96 bits of the text's SHA-256, the form both sets keep (about 24 bytes per
 * entry whatever the pushkey's length). A collision (chance about n²/2⁹⁷ among n
 * remembered keys) would skip one notification or reject one pushkey.
 */
function key96(text: string): Buffer {
  return hash('sha256', text, 'buffer');
}

/** The in-process store: bounded memory, forgotten on restart. */
export class MemoryStore implements PushStore {
  private readonly rejected: ExpiringSet;
  private readonly delivered: ExpiringSet;

  constructor(options: MemoryStoreOptions) {
    this.rejected = new ExpiringSet(options.rejectedTtlSeconds * 1000, options.rejectedMaxEntries, options.now);
    this.delivered = new ExpiringSet(options.dedupTtlSeconds * 1000, options.dedupMaxEntries, options.now);
  }

  async isRejected(appId: string, pushkey: string): Promise<boolean> {
    return this.rejected.has(key96(appId + SEP + pushkey));
  }

  async rememberRejected(appId: string, pushkey: string): Promise<void> {
    this.rejected.add(key96(appId + SEP + pushkey));
  }

  async wasDelivered(key: string): Promise<boolean> {
    return this.delivered.has(key96(key));
  }

  async rememberDelivered(key: string): Promise<void> {
    this.delivered.add(key96(key));
  }

  async close(): Promise<void> {
    this.rejected.clear();
    this.delivered.clear();
  }
}
