// Summarises a V8 sampling heap profile (from BENCH_HEAP_PROFILE=<dir> npm run bench): where the bytes were allocated.
// Usage: npx tsx bench/heap-top.ts <file.heapprofile> [count] [--stacks]
// Lists the functions that allocated the most (self), and with --stacks the heaviest allocating call stacks (5 frames).
import { readFileSync } from 'node:fs';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

interface HeapProfile {
  head: HeapNode;
}

function isHeapProfile(value: unknown): value is HeapProfile {
  return typeof value === 'object' && value !== null && 'head' in value;
}

function frameName(n: HeapNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(gateway|bench|devices|node_modules|simulators)\//, '$1/').replace(/^node:/, '');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

export function heapTop(profile: HeapProfile, count: number, stacks: boolean): string[] {
  const self = new Map<string, number>();
  const byStack = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode, path: string[]): void => {
    const here = [...path, frameName(n)];
    if (n.selfSize > 0) {
      total += n.selfSize;
      const name = frameName(n);
      self.set(name, (self.get(name) ?? 0) + n.selfSize);
      const key = here.slice(-5).join(' < ');
      byStack.set(key, (byStack.get(key) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, []);
  const lines = [`total sampled ${(total / 2 ** 20).toFixed(1)} MiB`];
  const top = (m: Map<string, number>): [string, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, count);
  for (const [name, bytes] of top(self))
    lines.push(`${((bytes / total) * 100).toFixed(1).padStart(5)} %  ${(bytes / 1024).toFixed(0).padStart(8)} KiB  ${name}`);
  if (stacks) {
    lines.push('', 'heaviest stacks (innermost last):');
    for (const [key, bytes] of top(byStack)) {
      const reversed = key.split(' < ').reverse().join('\n           < ');
      lines.push(`${((bytes / total) * 100).toFixed(1).padStart(5)} %  ${reversed}`);
    }
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, countArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  if (!file) throw new Error('usage: heap-top.ts <file.heapprofile> [count] [--stacks]');
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isHeapProfile(parsed)) throw new Error(`${file}: not a V8 sampling heap profile`);
  for (const line of heapTop(parsed, Number(countArg ?? 30), process.argv.includes('--stacks'))) console.log(line);
}
