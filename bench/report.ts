import type { LoadResult } from './load';
import { SUSTAINED } from './scenarios';

/** What the bench measured, the figures derived from it, and how they are printed. */

export const MiB = 1024 * 1024;

export interface Row {
  readonly build: string;
  readonly round: number;
  readonly scenario: string;
  readonly devices: number;
  readonly load: LoadResult;
  /** The target's CPU (all its processes and threads) during the measurement ÷ requests answered. */
  readonly cpuMsPerReq: number;
  readonly peakRssBytes: number;
  readonly startupMs?: number;
  /** 1-minute load average when the measurement ended: other work on the machine skews every number. */
  readonly loadAvg: number;
}

export interface Soak {
  readonly build: string;
  readonly maxRate: number;
  readonly rate: number;
  readonly load: LoadResult;
  /** RSS every 5 s from the start of the rated load. */
  readonly trajectory: ReadonlyArray<{ readonly tS: number; readonly rssBytes: number }>;
  /** Samples before this are left out of the slope (V8 grows its heap to its working size first). */
  readonly fromS: number;
  readonly slopeMiBPerMin: number;
}

export interface Summary {
  readonly build: string;
  readonly idleRssBytes?: number;
  readonly peakRssRatio?: number;
  readonly fanOut?: number;
  readonly cpuMsPerNotification: Record<string, number>;
  readonly rps: Record<string, number>;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Least-squares slope of RSS against time, MiB per minute, over the samples from `fromS` on. */
export function slopeMiBPerMin(points: Soak['trajectory'], fromS: number): number {
  const xs = points.filter((p) => p.tS >= fromS);
  if (xs.length < 2) return Number.NaN;
  const mt = xs.reduce((s, p) => s + p.tS, 0) / xs.length;
  const mr = xs.reduce((s, p) => s + p.rssBytes, 0) / xs.length;
  const num = xs.reduce((s, p) => s + (p.tS - mt) * (p.rssBytes - mr), 0);
  const den = xs.reduce((s, p) => s + (p.tS - mt) ** 2, 0);
  return ((num / den) * 60) / MiB;
}

function medianOf(rows: readonly Row[], scenario: string, pick: (r: Row) => number): number | undefined {
  const values = rows.filter((r) => r.scenario === scenario).map(pick);
  return values.length ? median(values) : undefined;
}

/** A build's figures: medians over its rounds; the bare server's rows are shared by every build. */
export function summarize(build: string, rows: readonly Row[], idle: readonly number[]): Summary {
  const own = rows.filter((r) => r.build === build);
  const bare = rows.filter((r) => r.scenario === 'bare');
  const barePeak = medianOf(bare, 'bare', (r) => r.peakRssBytes);
  const sustainedPeaks = SUSTAINED.map((s) => medianOf(own, s, (r) => r.peakRssBytes)).filter((v) => v !== undefined);
  const apns = medianOf(own, 'apns', (r) => r.load.rps);
  const apns20 = medianOf(own, 'apns20', (r) => r.load.rps * r.devices);
  const names = [...new Set(own.map((r) => r.scenario))];
  return {
    build,
    ...(idle.length ? { idleRssBytes: median(idle) } : {}),
    ...(barePeak && sustainedPeaks.length ? { peakRssRatio: Math.max(...sustainedPeaks) / barePeak } : {}),
    ...(apns && apns20 ? { fanOut: apns20 / apns } : {}),
    cpuMsPerNotification: Object.fromEntries(names.map((n) => [n, medianOf(own, n, (r) => r.cpuMsPerReq) as number])),
    rps: Object.fromEntries(names.map((n) => [n, medianOf(own, n, (r) => r.load.rps) as number])),
  };
}

function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ')).join('\n');
}

export function formatRows(rows: readonly Row[]): string {
  return table(
    ['build', 'scenario', 'round', 'req/s', 'devices/s', 'p50 ms', 'p99 ms', 'failed', 'CPU ms/req', 'peak RSS MiB', 'start ms', 'load'],
    rows.map((r) => [
      r.build,
      r.scenario,
      String(r.round + 1),
      r.load.rps.toFixed(0),
      (r.load.rps * r.devices).toFixed(0),
      r.load.latencyMs.p50.toFixed(2),
      r.load.latencyMs.p99.toFixed(2),
      String(r.load.failed),
      r.cpuMsPerReq.toFixed(3),
      (r.peakRssBytes / MiB).toFixed(1),
      r.startupMs === undefined ? '-' : r.startupMs.toFixed(0),
      r.loadAvg.toFixed(2),
    ]),
  );
}

const verdict = (ok: boolean | undefined): string => (ok === undefined ? 'n/a' : ok ? 'PASS' : 'FAIL');

/** Each build's figures against the targets; later builds also as a ratio to the first. */
export function formatSummaries(summaries: readonly Summary[], soak?: Soak): string {
  const lines: string[] = [];
  const first = summaries[0];
  for (const s of summaries) {
    lines.push(`${s.build}:`);
    if (s.idleRssBytes !== undefined) lines.push(`  idle RSS on config.sample.yaml: ${(s.idleRssBytes / MiB).toFixed(1)} MiB (target ≤ 70) ${verdict(s.idleRssBytes <= 70 * MiB)}`);
    if (s.peakRssRatio !== undefined) lines.push(`  peak RSS over ${SUSTAINED.join(', ')} ÷ bare node:http's: ${s.peakRssRatio.toFixed(2)}× (target ≤ 1.6) ${verdict(s.peakRssRatio <= 1.6)}`);
    if (s.fanOut !== undefined) lines.push(`  fan-out, apns20 devices/s ÷ apns req/s: ${s.fanOut.toFixed(2)}× (target ≥ 4) ${verdict(s.fanOut >= 4)}`);
    for (const [name, cpu] of Object.entries(s.cpuMsPerNotification)) {
      const vs = first && s !== first && first.cpuMsPerNotification[name] ? `; vs ${first.build}: CPU ${pct(cpu, first.cpuMsPerNotification[name])}, req/s ${pct(s.rps[name] as number, first.rps[name] as number)}` : '';
      lines.push(`  ${name}: ${cpu.toFixed(3)} CPU ms per notification, ${(s.rps[name] as number).toFixed(0)} req/s${vs}`);
    }
  }
  if (soak) {
    lines.push(
      `soak (${soak.build}, mixed2 at ${soak.rate.toFixed(0)} req/s = half of ${soak.maxRate.toFixed(0)}, ${soak.load.durationS.toFixed(0)} s, ${soak.load.failed} failed): ` +
        `RSS slope after ${soak.fromS} s ${soak.slopeMiBPerMin.toFixed(2)} MiB/min (target < 1) ${verdict(soak.slopeMiBPerMin < 1)}`,
      `  RSS every 5 s, MiB: ${soak.trajectory.map((p) => (p.rssBytes / MiB).toFixed(0)).join(' ')}`,
    );
  }
  return lines.join('\n');
}

function pct(value: number, reference: number | undefined): string {
  if (!reference) return 'n/a';
  const d = (100 * (value - reference)) / reference;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)} %`;
}
