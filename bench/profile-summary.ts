import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most
 * self time, and self time rolled up by where the code lives (Herald, each npm
 * package, Node core, native builtins, GC).
 *
 *   node dist/bench/profile-summary.js FILE.cpuprofile [--top 25] [--callers NAME]
 *
 * `--callers NAME` also lists the call paths (4 frames up) through which the functions
 * named NAME spent their self time: who calls the expensive thing.
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionRow {
  readonly name: string;
  readonly where: string;
  readonly area: string;
  readonly selfMs: number;
}

export interface ProfileSummary {
  readonly totalMs: number;
  /** Total minus (idle): time the thread was doing something. */
  readonly busyMs: number;
  readonly functions: readonly FunctionRow[];
  readonly areas: ReadonlyArray<{ readonly area: string; readonly selfMs: number }>;
  /**
   * Self time charged to the nearest npm package or Herald frame up the stack: Node core
   * and native builtins count for whoever called them (GC stays on its own).
   */
  readonly charged: ReadonlyArray<{ readonly area: string; readonly selfMs: number }>;
  /** Herald's own functions by total (inclusive) time. */
  readonly heraldTotal: ReadonlyArray<{ readonly name: string; readonly where: string; readonly totalMs: number }>;
}

const ROOT = process.cwd();

/** Where a function's code lives, for the roll-up. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') return /^\(.*\)$/.test(functionName) ? functionName : '(native builtins)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  if (/\/dist\/src\//.test(url)) return 'herald';
  if (/\/dist\/(bench|test)\//.test(url)) return 'bench/test helpers';
  return 'other';
}

function shortUrl(url: string): string {
  if (url.startsWith('file://')) {
    const path = decodeURIComponent(url.slice('file://'.length));
    const rel = relative(ROOT, path);
    return rel.startsWith('..') ? path : rel;
  }
  return url;
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<number, number>();
  // Sample i covers the time until sample i+1 (as Chrome DevTools counts it).
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }

  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const charged = new Map<string, number>();
  const heraldTotal = new Map<string, { name: string; where: string; us: number }>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    let payer: string | undefined;
    const heraldSeen = new Set<string>();
    // Each area and function counts once per sample, however often it recurs on the stack.
    for (let up: number | undefined = id; up !== undefined; up = parent.get(up)) {
      const frame = (byId.get(up) as ProfileNode).callFrame;
      if (frame.functionName === '(root)') break;
      const area = areaOf(frame);
      if (payer === undefined && (area.startsWith('npm:') || area === 'herald' || area === 'bench/test helpers')) payer = area;
      if (area === 'herald') {
        const name = frame.functionName || '(anonymous)';
        const where = `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
        const key = `${name}\u0000${where}`;
        if (!heraldSeen.has(key)) {
          heraldSeen.add(key);
          const entry = heraldTotal.get(key) ?? { name, where, us: 0 };
          entry.us += us;
          heraldTotal.set(key, entry);
        }
      }
    }
    const charge = payer ?? areaOf(node.callFrame);
    charged.set(charge, (charged.get(charge) ?? 0) + us);
  }

  const functions = new Map<string, { name: string; where: string; area: string; us: number }>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const frame = node.callFrame;
    const name = frame.functionName || '(anonymous)';
    const where = frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const area = areaOf(frame);
    const entry = functions.get(key) ?? { name, where, area, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    areas.set(area, (areas.get(area) ?? 0) + us);
    totalUs += us;
    if (name === '(idle)') idleUs += us;
  }
  return {
    totalMs: totalUs / 1000,
    busyMs: (totalUs - idleUs) / 1000,
    functions: [...functions.values()].sort((a, b) => b.us - a.us).map((f) => ({ name: f.name, where: f.where, area: f.area, selfMs: f.us / 1000 })),
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: us / 1000 })),
    charged: [...charged.entries()].sort((a, b) => b[1] - a[1]).map(([area, us]) => ({ area, selfMs: us / 1000 })),
    heraldTotal: [...heraldTotal.values()].sort((a, b) => b.us - a.us).map((f) => ({ name: f.name, where: f.where, totalMs: f.us / 1000 })),
  };
}

/** Self time of functions named `name`, by the chain of their `depth` nearest callers. */
export function callers(profile: CpuProfile, name: string, depth = 4): Array<{ path: string; selfMs: number }> {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i + 1] ?? 0));
  }
  const paths = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName !== name) continue;
    const frames: string[] = [];
    let up = parent.get(id);
    for (let d = 0; d < depth && up !== undefined; d++) {
      const frame = (byId.get(up) as ProfileNode).callFrame;
      frames.push(`${frame.functionName || '(anonymous)'} ${frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : ''}`.trim());
      up = parent.get(up);
    }
    const path = frames.join(' ← ');
    paths.set(path, (paths.get(path) ?? 0) + us);
  }
  return [...paths.entries()].sort((a, b) => b[1] - a[1]).map(([path, us]) => ({ path, selfMs: us / 1000 }));
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
}

/** The printable report: top `top` functions by self time and the roll-up by area (% of busy time). */
export function formatSummary(summary: ProfileSummary, top = 25, title = ''): string {
  const pct = (ms: number) => `${((100 * ms) / Math.max(summary.busyMs, 1e-9)).toFixed(1).padStart(5)} %`;
  const lines: string[] = [];
  if (title) lines.push(title);
  lines.push(`profiled ${(summary.totalMs / 1000).toFixed(1)} s, busy ${(summary.busyMs / 1000).toFixed(1)} s (percentages are of busy time)`);
  const writev = summary.functions.find((f) => f.name === 'writev' && f.area === '(native builtins)');
  if (writev && writev.selfMs > 0.1 * summary.busyMs) {
    lines.push(
      `note: writev (socket writes) shows ${pct(writev.selfMs).trim()}: samples pile up in syscalls and in time the thread loses the core to the` +
        ' process it just woke (the bare node:http ceiling profiles at ~90 % writev); read the JavaScript rows relative to each other',
    );
  }
  lines.push('');
  lines.push(`top ${top} functions by self time:`);
  lines.push(`  ${'self ms'.padStart(9)} ${'busy'.padStart(7)}  function  (area, location)`);
  for (const f of summary.functions.filter((fn) => fn.name !== '(idle)').slice(0, top)) {
    lines.push(`  ${f.selfMs.toFixed(0).padStart(9)} ${pct(f.selfMs)}  ${f.name}  (${f.area}${f.where ? `, ${f.where}` : ''})`);
  }
  lines.push('');
  lines.push('self time by area:');
  for (const a of summary.areas.filter((x) => x.area !== '(idle)').slice(0, 20)) {
    lines.push(`  ${a.selfMs.toFixed(0).padStart(9)} ${pct(a.selfMs)}  ${a.area}`);
  }
  lines.push('');
  lines.push('self time charged to the nearest npm package or Herald frame (Node core and builtins count for their caller):');
  for (const a of summary.charged.slice(0, 20)) {
    lines.push(`  ${a.selfMs.toFixed(0).padStart(9)} ${pct(a.selfMs)}  ${a.area}`);
  }
  lines.push('');
  lines.push("Herald's own functions by total time (including what they call; a middleware that calls next() includes everything after it):");
  for (const f of summary.heraldTotal.slice(0, 15)) {
    lines.push(`  ${f.totalMs.toFixed(0).padStart(9)} ${pct(f.totalMs)}  ${f.name}  (${f.where})`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  const files: string[] = [];
  const callersOf: string[] = [];
  let top = 25;
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--top') top = Number(args[++i]);
    else if (args[i] === '--callers') callersOf.push(String(args[++i]));
    else files.push(args[i] as string);
  }
  if (files.length === 0 || !(top > 0)) {
    console.error('usage: node dist/bench/profile-summary.js FILE.cpuprofile [...] [--top N]');
    process.exit(2);
  }
  for (const file of files) {
    const profile = readProfile(file);
    console.log(formatSummary(summarize(profile), top, `== ${file}`));
    console.log('');
    for (const name of callersOf) {
      console.log(`callers of ${name}:`);
      for (const { path, selfMs } of callers(profile, name).slice(0, 10)) console.log(`  ${selfMs.toFixed(0).padStart(7)} ms  ${path}`);
      console.log('');
    }
  }
}
