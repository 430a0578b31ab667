// Summarises a V8 .cpuprofile (from `npx tsx --cpu-prof bench/run.ts --only alarm`): the functions with the most self time.
// Usage: npx tsx bench/profile-top.ts <file.cpuprofile> [count] [--total <path-substring>]
// --window <file> keeps only the samples between its fromUs and toUs (the machine's monotonic clock, µs), e.g. the window.json a profiled failover run writes.
// --total also lists total (self + callees) time of the functions whose file path contains the substring, e.g. `gateway/`.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  share: number;
}

function isCpuProfile(value: unknown): value is CpuProfile {
  return typeof value === 'object' && value !== null && 'nodes' in value && 'samples' in value && 'timeDeltas' in value;
}

/** Self time per function (name + location), largest first; idle and GC are kept, so shares add up to 100 %. */
export function topSelfTime(profile: CpuProfile, count: number): SelfTime[] {
  const byNode = new Map<number, number>();
  profile.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFunction = new Map<string, SelfTime>();
  let total = 0;
  for (const node of profile.nodes) {
    const us = byNode.get(node.id) ?? 0;
    total += us;
    const f = node.callFrame;
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName}@${where}`;
    const entry = byFunction.get(key) ?? { name: f.functionName || '(anonymous)', where, ms: 0, share: 0 };
    entry.ms += us / 1000;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()]
    .map((e) => ({ ...e, share: total > 0 ? (e.ms * 1000) / total : 0 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count);
}

/** Total time per function (self + callees, each function counted once per sample), for functions whose location contains `filter`. */
export function topTotalTime(profile: CpuProfile, count: number, filter: string): SelfTime[] {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const keyOf = (n: ProfileNode): { key: string; name: string; where: string } => {
    const f = n.callFrame;
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : '';
    return { key: `${f.functionName}@${where}`, name: f.functionName || '(anonymous)', where };
  };
  const totals = new Map<string, SelfTime>();
  let all = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    all += us;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = nodes.get(at);
      if (!node) break;
      const k = keyOf(node);
      if (seen.has(k.key) || !k.where.includes(filter)) continue;
      seen.add(k.key);
      const entry = totals.get(k.key) ?? { name: k.name, where: k.where, ms: 0, share: 0 };
      entry.ms += us / 1000;
      totals.set(k.key, entry);
    }
  });
  return [...totals.values()]
    .map((e) => ({ ...e, share: all > 0 ? (e.ms * 1000) / all : 0 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, count);
}

/** The profile with the samples outside [fromUs, toUs] given no time (V8 stamps samples with the monotonic clock, µs). */
export function windowed(profile: CpuProfile, fromUs: number, toUs: number): CpuProfile {
  let at = profile.startTime;
  const timeDeltas = profile.timeDeltas.map((d) => {
    at += d;
    return at >= fromUs && at <= toUs ? d : 0;
  });
  return { ...profile, timeDeltas };
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const cwd = `file://${process.cwd()}/`;
  return url.startsWith(cwd) ? url.slice(cwd.length) : url;
}

function main(): void {
  const args = process.argv.slice(2);
  const totalAt = args.indexOf('--total');
  const filter = totalAt >= 0 ? args.splice(totalAt, 2)[1] : undefined;
  const windowAt = args.indexOf('--window');
  const windowFile = windowAt >= 0 ? args.splice(windowAt, 2)[1] : undefined;
  const [file, countArg] = args;
  if (!file) {
    console.error('usage: npx tsx bench/profile-top.ts <file.cpuprofile> [count] [--window <window.json>] [--total <path-substring>]');
    process.exitCode = 2;
    return;
  }
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isCpuProfile(parsed)) throw new Error(`${file} is not a V8 CPU profile`);
  let profile = parsed;
  let seconds = (parsed.endTime - parsed.startTime) / 1e6;
  if (windowFile !== undefined) {
    const w: unknown = JSON.parse(readFileSync(windowFile, 'utf8'));
    if (
      typeof w !== 'object' ||
      w === null ||
      !('fromUs' in w) ||
      !('toUs' in w) ||
      typeof w.fromUs !== 'number' ||
      typeof w.toUs !== 'number'
    )
      throw new Error(`${windowFile} has no fromUs/toUs`);
    profile = windowed(parsed, w.fromUs, w.toUs);
    seconds = (w.toUs - w.fromUs) / 1e6;
  }
  console.log(`${file}: ${seconds.toFixed(1)} s profiled`);
  const line = (e: SelfTime): string =>
    `${e.ms.toFixed(0).padStart(8)} ms ${(e.share * 100).toFixed(1).padStart(5)} %  ${e.name}  ${e.where}`;
  console.log('self time:');
  for (const e of topSelfTime(profile, Number(countArg ?? 30))) console.log(line(e));
  if (filter !== undefined) {
    console.log(`total time (self + callees), functions in "${filter}":`);
    for (const e of topTotalTime(profile, Number(countArg ?? 30), filter)) console.log(line(e));
  }
}

main();
