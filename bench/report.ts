import type { StoreMemoryResult } from './store-memory';
import type { LoadResult } from './loader';
import type { ScenarioName } from './scenarios';

/** Results of one run, as printed and as written by --json. */

export interface ScenarioResult {
  readonly name: ScenarioName;
  readonly description: string;
  readonly target: 'ceiling' | 'herald';
  readonly devices: number;
  readonly logLevel: string;
  readonly load?: LoadResult;
  readonly rps?: number;
  readonly devicesPerS?: number;
  /** req/s as % of the ceiling scenario's req/s in the same run. */
  pctOfCeiling?: number;
  readonly rssAfterWarmupBytes?: number;
  readonly peakRssBytes?: number;
  /** Spawn → first 200 on GET /health (Herald only). */
  readonly startupMs?: number;
  /** Herald processes (more than 1 with workers). */
  readonly processes?: number;
  /** CPU % of one core during the measurement: herald|ceiling, mocks, loader, bench, machine, other. */
  readonly cpu?: Readonly<Record<string, number>>;
  /** Warn/error lines Herald logged during the scenario, and the first one. */
  readonly heraldWarnings?: number;
  readonly firstWarning?: string;
  readonly profile?: string;
  readonly error?: string;
}

export interface SoakResult {
  readonly scenario: ScenarioName;
  readonly warmupS: number;
  readonly soakS: number;
  readonly rssAfterWarmupBytes: number;
  readonly rssAfterSoakBytes: number;
  readonly growthPct: number;
  readonly peakRssBytes: number;
  readonly trajectory: ReadonlyArray<{ readonly tS: number; readonly rssBytes: number }>;
  readonly load: LoadResult;
}

export interface TargetResult {
  readonly name: string;
  readonly target: string;
  readonly measured: string;
  /** undefined: not measured in this run. */
  readonly pass?: boolean;
  readonly note?: string;
}

export interface BenchReport {
  readonly meta: {
    readonly date: string;
    readonly commit: string;
    readonly node: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly loader: string;
    readonly connections: number;
    readonly durationS: number;
    readonly warmupS: number;
    readonly workers?: number;
    readonly workersNote?: string;
    /** Herald's store (--store). */
    readonly store?: 'memory' | 'redis';
    /** --set settings, when any. */
    readonly settings?: Readonly<Record<string, unknown>>;
    readonly loadAverageBefore: readonly number[];
    readonly loadAverageAfter: readonly number[];
    readonly profiled: boolean;
  };
  readonly scenarios: readonly ScenarioResult[];
  readonly startup?: { readonly samplesMs: readonly number[]; readonly medianMs: number; readonly maxMs: number };
  readonly soak?: SoakResult;
  readonly storeMemory?: StoreMemoryResult;
  readonly targets: readonly TargetResult[];
}

export const MB = 1024 * 1024;

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits);
}

/** Latencies: whole ms from autocannon, µs-precise from wrk. */
function ms(n: number | undefined): string {
  if (n === undefined) return '-';
  return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function formatTable(results: readonly ScenarioResult[]): string {
  const header = ['scenario', 'req/s', 'devices/s', '% ceiling', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'peak RSS MB', 'start-up ms'];
  const rows = results.map((r) =>
    r.error
      ? [r.name, `failed: ${r.error.split('\n')[0]?.slice(0, 100)}`]
      : [
          r.name + (r.profile ? ' (profiled)' : ''),
          fmt(r.rps),
          fmt(r.devicesPerS),
          r.target === 'ceiling' ? '100' : fmt(r.pctOfCeiling, 1),
          ms(r.load?.latencyMs.p50),
          ms(r.load?.latencyMs.p99),
          ms(r.load?.latencyMs.max),
          fmt(r.load?.non2xx),
          fmt(r.load?.errors),
          fmt(r.peakRssBytes !== undefined ? r.peakRssBytes / MB : undefined, 1),
          fmt(r.startupMs),
        ],
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.filter((row) => row.length > 2).map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.length === 2
      ? `${(cells[0] ?? '').padEnd(widths[0] as number)}  ${cells[1]}`
      : cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * CPU milliseconds the target (Herald, or the ceiling server) spent per answered request:
 * steadier than req/s on a shared machine, where other processes take turns on the cores.
 */
export function cpuMsPerRequest(r: ScenarioResult): number | undefined {
  const pct = r.cpu?.[r.target];
  return pct !== undefined && r.rps ? (pct / 100) * (1000 / r.rps) : undefined;
}

export function formatCpuTable(results: readonly ScenarioResult[]): string {
  const columns = ['herald', 'ceiling', 'mocks', 'loader', 'bench', 'other', 'machine'] as const;
  const present = columns.filter((c) => results.some((r) => r.cpu?.[c] !== undefined));
  const header = ['scenario', ...present, 'target CPU ms/req'];
  const rows = results.filter((r) => r.cpu).map((r) => [r.name, ...present.map((c) => fmt(r.cpu?.[c])), fmt(cpuMsPerRequest(r), 3)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] as number) : cell.padStart(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The issue's targets against this run's numbers. */
export function evaluateTargets(
  results: readonly ScenarioResult[],
  startup: BenchReport['startup'],
  soak: SoakResult | undefined,
  storeMemory: StoreMemoryResult | undefined,
): TargetResult[] {
  const get = (name: ScenarioName) => results.find((r) => r.name === name && !r.error && r.load);
  const targets: TargetResult[] = [];
  const ceiling = get('ceiling');

  const pctTarget = (name: ScenarioName, label: string, min: number): void => {
    const r = get(name);
    if (!r || !ceiling || r.pctOfCeiling === undefined) {
      targets.push({ name: `${label} throughput`, target: `≥ ${min} % of ceiling`, measured: 'not measured (needs ceiling and the scenario)' });
      return;
    }
    const pct = r.pctOfCeiling;
    targets.push({
      name: `${label} throughput`,
      target: `≥ ${min} % of ceiling`,
      measured: `${pct.toFixed(1)} % (${fmt(r.rps)} of ${fmt(ceiling.rps)} req/s)`,
      pass: pct >= min,
      note: pct >= min ? `${(pct / min).toFixed(2)}× the target` : `short by ${(min - pct).toFixed(1)} points: needs ${((min / pct - 1) * 100).toFixed(0)} % more req/s`,
    });
  };
  const latencyTarget = (name: ScenarioName, label: string): void => {
    const r = get(name);
    if (!r?.load) {
      targets.push({ name: `${label} p99 and errors`, target: 'p99 ≤ 25 ms, 0 non-2xx', measured: 'not measured' });
      return;
    }
    const { p99 } = r.load.latencyMs;
    const bad = r.load.non2xx + r.load.errors;
    targets.push({
      name: `${label} p99 and errors`,
      target: 'p99 ≤ 25 ms, 0 non-2xx',
      measured: `p99 ${ms(p99)} ms, ${r.load.non2xx} non-2xx, ${r.load.errors} socket errors`,
      pass: p99 <= 25 && bad === 0,
      ...(p99 > 25 ? { note: `p99 ${(p99 / 25).toFixed(2)}× the limit` } : {}),
    });
  };

  pctTarget('noop', 'noop', 40);
  pctTarget('apns', 'APNs 1 device', 14);
  latencyTarget('apns', 'APNs 1 device');
  pctTarget('fcm', 'FCM 1 device', 10);
  latencyTarget('fcm', 'FCM 1 device');

  const apns = get('apns');
  const apns20 = get('apns20');
  if (apns20?.devicesPerS !== undefined && apns?.rps) {
    const ratio = apns20.devicesPerS / apns.rps;
    const errors = (apns20.load?.non2xx ?? 0) + (apns20.load?.errors ?? 0);
    targets.push({
      name: 'APNs fan-out: 20-device devices/s vs 1-device req/s',
      target: '≥ 4×, 0 non-2xx',
      measured: `${ratio.toFixed(1)}× (${fmt(apns20.devicesPerS)} devices/s vs ${fmt(apns.rps)} req/s), ${apns20.load?.non2xx ?? 0} non-2xx`,
      pass: ratio >= 4 && errors === 0,
    });
  } else {
    targets.push({ name: 'APNs fan-out: 20-device devices/s vs 1-device req/s', target: '≥ 4×, 0 non-2xx', measured: 'not measured (needs apns20 and apns)' });
  }

  const mixed = get('mixed20');
  const fcm = get('fcm');
  if (mixed?.devicesPerS !== undefined && apns?.rps && fcm?.rps) {
    // The 20 devices are half APNs, half FCM: compare with 1-device requests in the same mix
    // (the harmonic mean of the two 1-device rates).
    const oneDevice = 2 / (1 / apns.rps + 1 / fcm.rps);
    const ratio = mixed.devicesPerS / oneDevice;
    const errors = (mixed.load?.non2xx ?? 0) + (mixed.load?.errors ?? 0);
    targets.push({
      name: '20 devices: devices/s vs 1-device req/s',
      target: '≥ 5×, 0 non-2xx',
      measured: `${ratio.toFixed(1)}× (${fmt(mixed.devicesPerS)} devices/s vs ${fmt(oneDevice)} req/s, harmonic mean of APNs and FCM), ${mixed.load?.non2xx ?? 0} non-2xx`,
      pass: ratio >= 5 && errors === 0,
      note: `vs APNs alone ${(mixed.devicesPerS / apns.rps).toFixed(1)}×, vs FCM alone ${(mixed.devicesPerS / fcm.rps).toFixed(1)}×`,
    });
  } else {
    targets.push({ name: '20 devices: devices/s vs 1-device req/s', target: '≥ 5×, 0 non-2xx', measured: 'not measured (needs mixed20, apns and fcm)' });
  }

  const peaks: Array<{ name: string; bytes: number }> = results
    .filter((r) => r.target === 'herald' && r.peakRssBytes !== undefined)
    .map((r) => ({ name: r.name, bytes: r.peakRssBytes as number }));
  if (soak) peaks.push({ name: `soak (${soak.scenario})`, bytes: soak.peakRssBytes });
  if (peaks.length > 0) {
    const worst = peaks.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    targets.push({
      name: 'peak RSS',
      target: '≤ 150 MB',
      measured: `${(worst.bytes / MB).toFixed(1)} MB (${worst.name})`,
      pass: worst.bytes <= 150 * MB,
    });
  } else {
    targets.push({ name: 'peak RSS', target: '≤ 150 MB', measured: 'not measured' });
  }

  if (soak) {
    targets.push({
      name: 'no leak',
      target: `RSS after ${soak.soakS} s within 10 % of after warm-up`,
      measured: `${(soak.rssAfterWarmupBytes / MB).toFixed(1)} → ${(soak.rssAfterSoakBytes / MB).toFixed(1)} MB (${soak.growthPct >= 0 ? '+' : ''}${soak.growthPct.toFixed(1)} %)`,
      pass: Math.abs(soak.growthPct) <= 10,
      ...(soak.soakS < 60 ? { note: 'soak shorter than the 60 s the target asks for' } : {}),
    });
  } else {
    targets.push({ name: 'no leak', target: 'RSS after 60 s within 10 % of after warm-up', measured: 'not measured (--soak 0)' });
  }

  if (storeMemory) {
    targets.push({
      name: 'memory store: bytes per entry',
      target: `≤ 150 at ${storeMemory.entries} entries`,
      measured: `${storeMemory.bytesPerEntry.toFixed(1)} (V8 heap ${storeMemory.heapBytesPerEntry.toFixed(1)}, the rest typed arrays)`,
      pass: storeMemory.bytesPerEntry <= 150,
    });
  } else {
    targets.push({ name: 'memory store: bytes per entry', target: '≤ 150 at 100000 entries', measured: 'not measured' });
  }

  if (startup) {
    targets.push({
      name: 'start-up to first served request',
      target: '≤ 1000 ms',
      measured: `median ${startup.medianMs.toFixed(0)} ms, max ${startup.maxMs.toFixed(0)} ms over ${startup.samplesMs.length} starts`,
      pass: startup.medianMs <= 1000,
      ...(startup.maxMs > 1000 && startup.medianMs <= 1000 ? { note: 'some starts were slower (other load on the machine?)' } : {}),
    });
  } else {
    targets.push({ name: 'start-up to first served request', target: '≤ 1000 ms', measured: 'not measured' });
  }
  return targets;
}

export function formatTargets(targets: readonly TargetResult[]): string {
  const width = Math.max(...targets.map((t) => t.name.length));
  return targets
    .map((t) => {
      const verdict = t.pass === undefined ? 'n/a ' : t.pass ? 'PASS' : 'FAIL';
      return `${verdict}  ${t.name.padEnd(width)}  target ${t.target}; measured ${t.measured}${t.note ? `; ${t.note}` : ''}`;
    })
    .join('\n');
}
