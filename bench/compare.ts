import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { BenchReport } from './report';

/**
 * Compares `--json` result files (runs of the same commit for the spread, or of two
 * commits): req/s, p99 and peak RSS per scenario, one column per file, plus the spread.
 *
 *   node dist/bench/compare.js bench/results/a.json bench/results/b.json [...]
 */

function main(files: readonly string[]): void {
  const reports = files.map((file) => JSON.parse(readFileSync(file, 'utf8')) as BenchReport);
  const names = [...new Set(reports.flatMap((r) => r.scenarios.map((s) => s.name)))];
  const metrics: Array<{ label: string; unit: string; pick: (r: BenchReport, name: string) => number | undefined; digits: number }> = [
    { label: 'req/s', unit: '', pick: (r, n) => r.scenarios.find((s) => s.name === n)?.rps, digits: 0 },
    { label: '% ceiling', unit: '', pick: (r, n) => r.scenarios.find((s) => s.name === n)?.pctOfCeiling, digits: 1 },
    { label: 'p99 ms', unit: '', pick: (r, n) => r.scenarios.find((s) => s.name === n)?.load?.latencyMs.p99, digits: 1 },
    { label: 'peak RSS MB', unit: '', pick: (r, n) => ((s) => (s?.peakRssBytes !== undefined ? s.peakRssBytes / 2 ** 20 : undefined))(r.scenarios.find((x) => x.name === n)), digits: 0 },
  ];
  const heads = reports.map((r, i) => `${basename(files[i] as string, '.json')} (${r.meta.commit})`);
  for (const metric of metrics) {
    console.log(`${metric.label}:`);
    const width = Math.max(13, ...names.map((n) => n.length));
    console.log(`  ${''.padEnd(width)}  ${heads.map((h) => h.padStart(Math.max(10, h.length))).join('  ')}  ${'spread'.padStart(8)}`);
    for (const name of names) {
      const values = reports.map((r) => metric.pick(r, name));
      const present = values.filter((v): v is number => v !== undefined);
      const spread = present.length > 1 ? (100 * (Math.max(...present) - Math.min(...present))) / Math.min(...present) : undefined;
      const cells = values.map((v, i) => (v === undefined ? '-' : v.toFixed(metric.digits)).padStart(Math.max(10, (heads[i] as string).length)));
      console.log(`  ${name.padEnd(width)}  ${cells.join('  ')}  ${spread === undefined ? '-'.padStart(8) : `${spread.toFixed(0)} %`.padStart(8)}`);
    }
    console.log('');
  }
  const other = reports.map((r) => {
    const values = r.scenarios.map((s) => s.cpu?.other).filter((v): v is number => v !== undefined);
    return values.length ? `${(values.reduce((a, b) => a + b, 0) / values.length).toFixed(0)} %` : '-';
  });
  console.log(`mean CPU used by other work on the machine during measurements: ${other.join(', ')}`);
}

if (require.main === module) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error('usage: node dist/bench/compare.js RESULT.json [RESULT.json ...]');
    process.exit(2);
  }
  main(files);
}
