import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { MemoryStore } from '../src/store/memory';
import { deliveryKey } from '../src/store/store';

/**
 * What the in-memory store costs per remembered entry: the V8 heap (objects) plus the
 * ArrayBuffers the sets keep their tables in, measured with a forced garbage collection
 * before building the store and after filling it. Run as its own process (it needs
 * `node --expose-gc`); `npm run bench` runs it once and reports the figure.
 */

export interface StoreMemoryResult {
  readonly entries: number;
  /** Heap and ArrayBuffer bytes per entry, rejections and deliveries each filled to `entries`. */
  readonly bytesPerEntry: number;
  /** The V8 heap's share of it. */
  readonly heapBytesPerEntry: number;
}

const DEFAULT_ENTRIES = 100_000;

/** Heap plus ArrayBuffer bytes in use after a full collection. */
function usedBytes(gc: () => void): { heap: number; total: number } {
  gc();
  gc();
  const usage = process.memoryUsage();
  return { heap: usage.heapUsed, total: usage.heapUsed + usage.arrayBuffers };
}

/** An FCM-shaped pushkey (about 160 characters): the long kind a rejection store holds. */
function pushkey(i: number): string {
  const text = createHash('sha512').update(`store-${i}`).digest('base64url');
  return `${text.slice(0, 22)}:APA91b${(text + text).slice(0, 134)}`;
}

async function measure(entries: number, gc: () => void): Promise<StoreMemoryResult> {
  const before = usedBytes(gc);
  const store = new MemoryStore({ rejectedTtlSeconds: 86_400, rejectedMaxEntries: entries, dedupTtlSeconds: 86_400, dedupMaxEntries: entries });
  for (let i = 0; i < entries; i++) {
    const key = pushkey(i);
    await store.rememberRejected('im.example.app', key);
    await store.rememberDelivered(deliveryKey(`$event${i}:example.org`, 'im.example.app', key));
  }
  const after = usedBytes(gc);
  // Still remembered, so the collection above could not take them.
  if (!(await store.isRejected('im.example.app', pushkey(entries - 1)))) throw new Error('the store forgot an entry');
  const stored = 2 * entries;
  return { entries, bytesPerEntry: (after.total - before.total) / stored, heapBytesPerEntry: (after.heap - before.heap) / stored };
}

/** Runs this file in a child with --expose-gc and returns its result. */
export function measureStoreMemory(entries = DEFAULT_ENTRIES): StoreMemoryResult {
  const run = spawnSync(process.execPath, ['--expose-gc', __filename, String(entries)], { encoding: 'utf8', timeout: 120_000 });
  if (run.status !== 0) throw new Error(`store memory measurement failed: ${run.stderr || run.error?.message}`);
  return JSON.parse(run.stdout) as StoreMemoryResult;
}

if (require.main === module) {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) {
    process.stderr.write('run with node --expose-gc\n');
    process.exit(2);
  }
  const entries = Number(process.argv[2] ?? DEFAULT_ENTRIES);
  measure(entries, gc).then(
    (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
