// Names, at the end of the run's output, every test that passed only on a retry: CI retries a failed test once, and
// without this a flaky test looks exactly like a good one.
import { relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

/** One line per test that failed and then passed on a retry: file, full name, and how many tries it took. */
export function flakyLines(testModules: ReadonlyArray<TestModule>, root: string): string[] {
  const lines: string[] = [];
  for (const m of testModules) {
    for (const test of m.children.allTests('passed')) {
      const retries = test.diagnostic()?.retryCount ?? 0;
      if (retries > 0) lines.push(`  ${relative(root, m.moduleId)} > ${test.fullName} (passed on try ${retries + 1})`);
    }
  }
  return lines;
}

export default class FlakyReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines = flakyLines(testModules, process.cwd());
    if (lines.length > 0)
      process.stderr.write(`\nTests that passed only on a retry (flaky: find the cause, the retry only hides it):\n${lines.join('\n')}\n`);
  }
}
